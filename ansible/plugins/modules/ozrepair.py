#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ozrepair
short_description: Inspect, fix, back up or restore the IdP connectors of an openZro / NetBird deployment, set a secret, move its domain
version_added: "0.1.0"
description:
  - Runs the C(ozrepair) binary once on the target, against one Docker or Podman engine (or a database
    file), and turns its JSON report (command-line contract v1) into an Ansible result.
  - I(action=inspect) and I(action=backups) only read. They are never C(changed); pending fixes are in
    C(pending), C(plan) and the diff. For monitoring, M(openzro.ozrepair.ozrepair_info) does the same.
  - C(changed) means changes were applied (a connector or config file was rewritten, a backup was taken or
    restored, a password or a secret was set, the domain was moved). Under check mode it means they would
    be.
  - A failed run fails the task with the report's one-line C(error) as C(msg). Exit code 4 (the change is
    written but the container did not stay up) is both changed and failed.
  - The whole report is returned. Secret values (client secrets, bind passwords and the like) are never
    part of any returned field. ozrepair redacts them, and the module scrubs any field named like a
    secret once more.
  - Each option is ozrepair's flag of the same name (C(docker_host) is C(-H)/C(--host)). An option that
    the action's command does not take is ignored.
options:
  action:
    description:
      - What to do. Required; there is no default, because the actions that write stop the container.
      - C(inspect) reads and reports what is wrong. C(backups) lists the backups. Both never write.
      - C(fix) corrects broken connectors (stop, verified backup, edit, start, watch).
      - C(backup) takes a verified backup (the container is stopped around it).
      - C(restore) puts a backup back, the newest unless I(backup) names one (the current database is
        saved first).
      - C(password) sets the password of the local user I(email) and ends that user's local sessions (the
        same stop window), from I(new_password) or I(password_file).
      - C(local_login) is the emergency door. It turns local login back on in the config files that turn it
        off and creates Dex's C(local) connector again when it was deleted (the same stop window). It is
        never implied by C(fix).
      - C(secret) puts a new client secret (C(clientSecret), LDAP's C(bindPW), keystone's
        C(keystonePassword)) into the connector I(connector), or the management's IdP-manager credential
        with I(connector=management), from I(new_secret) or I(secret_file) (the same stop window). With
        I(verify) the provider's token endpoint is asked first, and a secret it refuses is never written;
        without it the result is C(unverified), never C(fixed).
      - C(domain) moves the deployment's own host from I(from) (default, learned from the deployment) to
        I(to) in every place ozrepair reads, in one stop window with one backup set. Under check mode it
        is the dry run that shows every place. The checklist of what ozrepair does not change (DNS,
        certificates, the reverse proxy, the peers) is in the report's C(notes).
    type: str
    required: true
    choices: [inspect, backups, fix, backup, restore, password, local_login, secret, domain]
  connector:
    description:
      - Only this connector (C(--connector); I(action=fix)).
      - The connector whose secret is set, or C(management) (C(--connector); I(action=secret), required
        there).
    type: str
  issuer:
    description:
      - Set exactly this issuer (C(--issuer); I(action=fix)). It needs I(connector) when more than one
        connector could match.
    type: str
  set:
    description:
      - Set existing string fields of connectors' configs (C(--set), one per element; I(action=fix)).
      - Each element is C(CONNECTOR.FIELD=VALUE). Secrets cannot be set this way.
    type: list
    elements: str
    default: []
  issuer_alias:
    description:
      - Correct a mismatch by adding Dex's C(issuerAlias) and leaving C(issuer) as it is
        (C(--issuer-alias); I(action=fix); Dex v2.43 or later).
    type: bool
    default: false
  email:
    description: The local user whose password is set (C(--email); I(action=password), required there).
    type: str
  password_file:
    description:
      - A file on the target whose one line is the new password (C(--password-file); I(action=password)).
        Only its path goes on ozrepair's command line.
      - Mutually exclusive with I(new_password); one of them is required for I(action=password).
    type: path
  new_password:
    description:
      - The new password itself (I(action=password)), never logged (C(no_log)). It is handed to ozrepair on
        stdin (C(--password-file -)), never on a command line.
      - It travels to the target inside the module's arguments. With pipelining on (the
        C(openzro.ozrepair.ozrepair) role turns it on for its run) they never touch the target's disk;
        without it Ansible writes them to a temporary file there.
    type: str
  secret_file:
    description:
      - A file on the target whose one line is the new secret (C(--secret-file); I(action=secret)). Only its
        path goes on ozrepair's command line.
      - Mutually exclusive with I(new_secret); one of them is required for I(action=secret).
    type: path
  new_secret:
    description:
      - The new secret itself (I(action=secret)), say from a vaulted variable; never logged (C(no_log)).
        It is handed to ozrepair on stdin (C(--secret-file -)), never on a command line.
      - It travels to the target inside the module's arguments. With pipelining on (the
        C(openzro.ozrepair.ozrepair) role turns it on for its run) they never touch the target's disk;
        without it Ansible writes them to a temporary file there.
    type: str
  verify:
    description:
      - Ask the provider's token endpoint with the new secret before writing it (C(--verify);
        I(action=secret)); a secret it refuses is never written and the task fails.
    type: bool
    default: false
  verify_timeout:
    description: Seconds to wait for the provider's answer, 1 to 3600 (C(--verify-timeout); only with I(verify)).
    type: int
    default: 10
  to:
    description:
      - The new host, with C(:port) when the deployment names one, no scheme (C(--to); I(action=domain),
        required there).
    type: str
  from:
    description:
      - The old host (C(--from); I(action=domain)). Default is the host of the management's AuthIssuer,
        else the one host every connector's redirectURI names.
    type: str
  backup:
    description: The backup set to put back (C(--backup); I(action=restore)). Default is the newest.
    type: path
  allow_other_database:
    description:
      - Put back a set whose manifest names another database (C(--allow-other-database);
        I(action=restore)).
    type: bool
    default: false
  backup_dir:
    description:
      - Where backups go and are looked for (C(--backup-dir); every action but C(inspect)). Default is
        ozrepair's (beside the database; for the archive access, C(~/ozrepair-backups/CONTAINER)).
    type: path
  no_restart:
    description:
      - Leave the container stopped after the change (C(--no-restart); I(action=fix), C(restore),
        C(password), C(local_login), C(secret), C(domain)).
    type: bool
    default: false
  wait:
    description:
      - Seconds to watch the restarted container (C(--wait); I(action=fix), C(restore), C(password),
        C(local_login), C(secret), C(domain)). C(0) starts it without watching. At most 86400.
    type: int
    default: 30
extends_documentation_fragment:
  - openzro.ozrepair.ozrepair
  - openzro.ozrepair.ozrepair.discovery
notes:
  - "Check mode runs only read-only commands: C(fix --dry-run), C(password --dry-run),
    C(local-login --enable --dry-run) and C(secret --dry-run) for those actions, C(domain) without
    C(--apply) (its dry run) for I(action=domain), C(inspect) for I(action=backup), C(backups) for
    I(action=restore). It reports changed when a plan exists (or a backup would be taken or restored).
    Nothing is stopped, started or written."
  - Diff mode shows the before and after of each planned or applied change, one diff per connector field.
  - The target needs the static ozrepair binary; the C(openzro.ozrepair.ozrepair) role installs it.
seealso:
  - module: openzro.ozrepair.ozrepair_info
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  action_group:
    description: Use C(group/openzro.ozrepair.ozrepair) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - openzro.ozrepair.ozrepair
author:
  - ozrepair contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Fix the locked-out connectors of the deployment on this host
  openzro.ozrepair.ozrepair:
    action: fix
    wait: 60

- name: See what is wrong, read-only (never changed; the plan is in ozrepair_inspect.plan)
  openzro.ozrepair.ozrepair:
    action: inspect
    docker_host: unix:///run/user/1000/docker.sock
    access: archive
  register: ozrepair_inspect

- name: Set one issuer explicitly
  openzro.ozrepair.ozrepair:
    action: fix
    connector: d4s1a2b3c4d5e6f7g8h9
    issuer: https://oauth.id.jumpcloud.com/

- name: Correct the redirect URI and add an issuer alias, and leave the container stopped
  openzro.ozrepair.ozrepair:
    action: fix
    set:
      - okta-1.redirectURI=https://vpn.example.com/oauth2/callback
    issuer_alias: true
    no_restart: true

- name: Set the local admin's password from a vaulted variable (never logged, passed on stdin)
  openzro.ozrepair.ozrepair:
    action: password
    email: admin@example.com
    new_password: "{{ vault_netbird_admin_password }}"

- name: Put the client secret rotated at the provider into its connector, proven first (never logged, on stdin)
  openzro.ozrepair.ozrepair:
    action: secret
    connector: entra
    new_secret: "{{ vault_entra_client_secret }}"
    verify: true

- name: Move the deployment to its new domain (a dry run under --check)
  openzro.ozrepair.ozrepair:
    action: domain
    to: vpn.example.net
  register: ozrepair_domain

- name: Turn local login back on (the emergency door)
  openzro.ozrepair.ozrepair:
    action: local_login

- name: Take a backup before an upgrade
  openzro.ozrepair.ozrepair:
    action: backup
    backup_dir: /srv/ozrepair-backups

- name: Put a named backup back
  openzro.ozrepair.ozrepair:
    action: restore
    backup_dir: /srv/ozrepair-backups
    backup: /srv/ozrepair-backups/idp.db-20261201T031209Z
'''

RETURN = r'''
result:
  description:
    - The report's result, a word of the contract's table of results (docs/cli-contract.md) -
      C(healthy), C(unchecked), C(pending), C(fixed), C(unverified), C(action_needed), C(backed_up),
      C(restored), C(listed), C(cancelled) or C(failed).
  returned: when ozrepair printed a report
  type: str
  sample: fixed
healthy:
  description:
    - Whether the report's result is C(healthy) - nothing to fix, on this run's evidence. For monitoring,
      a C(failed_when) of C(not result.healthy) fails the task on anything else.
  returned: when ozrepair printed a report
  type: bool
  sample: true
unchecked:
  description:
    - Whether the report's result is C(unchecked) - nothing found to fix, but not every connector could
      be checked in this run (no log lines of a start, no provider asked). Not a failure, and not healthy.
  returned: when ozrepair printed a report
  type: bool
  sample: false
pending:
  description: Whether changes are pending - a plan exists that this run did not apply (read-only actions, check mode).
  returned: when ozrepair printed a report
  type: bool
  sample: false
plan:
  description: The changes pending (the same shape as C(changes)); empty when the run applied its changes.
  returned: when ozrepair printed a report
  type: list
  elements: dict
  sample: []
changes:
  description: The planned (read-only actions, check mode) or applied changes.
  returned: when ozrepair printed a report
  type: list
  elements: dict
  sample:
    - connector: d4s1a2b3c4d5e6f7g8h9
      field: issuer
      from: https://oauth.id.jumpcloud.com
      to: https://oauth.id.jumpcloud.com/
      source: logs
      store: database
      evidence: 'container log 2026-12-01T03:12:09Z: issuer did not match the issuer returned by provider, ...'
backup:
  description: The backup taken (the database's copy, its SHA-256 and the set's directory), or null.
  returned: when ozrepair printed a report
  type: dict
  sample:
    path: /var/lib/docker/volumes/root_openzro_management/_data/ozrepair-backups/idp.db-20261201T031209Z/idp.db
    sha256: 0c5f6a2d9b1e4f7a8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b
    dir: /var/lib/docker/volumes/root_openzro_management/_data/ozrepair-backups/idp.db-20261201T031209Z
backups:
  description: I(action=backups), and I(action=restore) under check mode - the backup sets, newest first.
  returned: when ozrepair listed the backups
  type: list
  elements: dict
  sample:
    - dir: /var/lib/docker/volumes/root_openzro_management/_data/ozrepair-backups/idp.db-20261201T031209Z
      created: "2026-12-01T03:12:09.259953776Z"
      sha256: 0c5f6a2d9b1e4f7a8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b
      size: 98304
      connectors: [local, d4s1a2b3c4d5e6f7g8h9]
password_change:
  description:
    - I(action=password) - the user (email, user_id), the local sessions removed (or that would be), and
      whether the new password was written. Never the password or a hash.
  returned: with I(action=password), once the user was found
  type: dict
  sample: {"email": "admin@example.com", "user_id": "u-0001", "sessions_removed": 2, "applied": true}
secret_change:
  description:
    - I(action=secret) - the connector and field, where the secret is kept, the new secret's length, whether
      it was written, and what the provider said (C(accepted), C(refused), C(inconclusive),
      C(cannot_verify), C(not_asked)). Never the secret.
  returned: with I(action=secret), once the connector was found
  type: dict
  sample: {"connector": "entra", "field": "clientSecret", "places": ["database"], "bytes": 40, "applied": true,
           "verified": "accepted"}
error:
  description: The report's one-line error, or null.
  returned: when ozrepair printed a report
  type: str
  sample: null
report:
  description: The whole JSON report of ozrepair (the contract's schema), secrets redacted.
  returned: when ozrepair printed a report
  type: dict
exit_code:
  description:
    - ozrepair's exit code (0 done, 1 failed, 2 usage, 3 changes pending, 4 applied but not up,
      5 nothing found but not every connector checked, 6 action needed).
    - Named so because Ansible reads a non-zero C(rc) as a failure, and exit code 3 is not one.
  returned: when ozrepair ran
  type: int
  sample: 0
cmd:
  description: The command that ran on the target (never with the password or secret, which go on stdin).
  returned: when ozrepair ran
  type: list
  elements: str
  sample: ["/usr/local/bin/ozrepair", "--output", "json", "--access", "auto", "fix", "--yes", "--wait", "30"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openzro.ozrepair.plugins.module_utils.ozrepair import (
    REQUIRED_IF, argument_spec, mutually_exclusive, run,
)

ACTIONS = ['inspect', 'backups', 'fix', 'backup', 'restore', 'password', 'local_login', 'secret', 'domain']


def main():
    spec = argument_spec(ACTIONS, action=dict(type='str', required=True, choices=ACTIONS))
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=mutually_exclusive(spec),
        required_if=REQUIRED_IF,
        supports_check_mode=True,
    )
    run(module, module.params['action'])


if __name__ == '__main__':
    main()
