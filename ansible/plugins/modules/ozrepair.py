#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ozrepair
short_description: Inspect, fix, back up or restore the IdP connectors of an openZro / NetBird deployment, or set a local user's password
version_added: "1.0.0"
description:
  - Runs the C(ozrepair) binary on the target against one Docker engine and turns its JSON report
    (command-line contract v1) into an Ansible result.
  - C(changed) means changes were applied (a connector was rewritten, a backup was taken, a backup was
    restored). With I(action=inspect) it means changes are pending, so that the play recap counts the
    hosts a fix would change; inspect itself never writes.
  - A failed run fails the task with the report's one-line C(error) as C(msg). Exit code 4 (the change is
    written but the container did not stay up) is both changed and failed.
  - The whole report is returned. Secret values (client secrets, bind passwords and the like) are never
    part of any returned field; ozrepair redacts them and the module scrubs any field named like a
    secret once more.
options:
  action:
    description:
      - What to do. C(inspect) is read-only. C(fix) corrects broken connectors (stop, verified backup,
        edit, start, watch). C(backup) takes a verified backup (the container is stopped around it).
        C(restore) puts the newest backup back (the current database is saved first). C(password) sets
        the password of the local user I(email) and ends that user's local sessions (stop, verified
        backup, write, start, watch), from I(password_file) or I(new_password). C(local_login) is the
        emergency door: it turns local login back on in the config files that turn it off and creates
        Dex's C(local) connector again when it was deleted (the same stop window); never implied by C(fix).
    type: str
    choices: [inspect, fix, backup, restore, password, local_login]
    default: fix
  docker_host:
    description:
      - The Docker endpoint on the target, as C(ozrepair -H) takes it (C(unix://), C(tcp://), C(ssh://)).
      - Default is the target's C($DOCKER_HOST), its docker context, else the local socket.
    type: str
  container:
    description: The container that runs the IdP. Default is discovered.
    type: str
  volume:
    description: The volume that holds the IdP database. Default is discovered.
    type: str
  unit:
    description:
      - The systemd unit that runs the management server or Dex (C(netbird-management), C(openzro-management),
        C(dex)), on a host without containers.
      - Default is discovered (after the container engine, when it finds none).
      - Mutually exclusive with I(container), I(volume) and I(db).
    type: str
  db:
    description:
      - Work on this database file directly, without Docker (nothing is stopped or started).
      - Mutually exclusive with I(container) and I(volume).
    type: path
  access:
    description: Reach the database through the volume's host path or the engine's archive API.
    type: str
    choices: [auto, host, archive]
  connector:
    description: Only this connector (I(action=fix)).
    type: str
  issuer:
    description: Set exactly this issuer (I(action=fix)); needs I(connector) when more than one could match.
    type: str
  discover:
    description: Ask each OIDC connector's provider for the issuer it publishes (I(action=inspect) or C(fix)).
    type: bool
    default: false
  email:
    description: The local user whose password is set (I(action=password), required there).
    type: str
  password_file:
    description:
      - A file on the target whose one line is the new password (I(action=password)). Only its path
        goes to ozrepair's command line.
      - Mutually exclusive with I(new_password); one of them is required for I(action=password).
    type: path
  new_password:
    description:
      - The new password itself (I(action=password)), never logged (C(no_log)). It is handed to
        ozrepair on stdin (C(--password-file -)), never on a command line.
    type: str
  wait:
    description:
      - Seconds to watch the restarted container (I(action=fix), C(restore) or C(password)). C(0) starts it without
        watching. Default is ozrepair's (30).
    type: int
  backup_dir:
    description: Where backups go and are looked for. Default is ozrepair's (beside the database).
    type: path
  binary:
    description: The ozrepair binary on the target.
    type: path
    default: /usr/local/bin/ozrepair
notes:
  - "Check mode runs only read-only commands: C(inspect) for I(action=inspect) and I(action=backup),
    C(fix --dry-run) for I(action=fix), C(backups) for I(action=restore). It reports changed when a plan
    exists (or a backup would be taken or restored). Nothing is stopped, started or written."
  - Diff mode shows the before and after of each planned or applied change, one diff per connector field.
  - The target needs the static ozrepair binary; the C(openzro.ozrepair.ozrepair) role installs it.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - ozrepair contributors
'''

EXAMPLES = r'''
- name: Fix the locked-out connectors of the deployment on this host
  openzro.ozrepair.ozrepair:
    action: fix
    wait: 60

- name: See what is wrong, read-only
  openzro.ozrepair.ozrepair:
    action: inspect
    docker_host: unix:///run/user/1000/docker.sock
  register: ozrepair_inspect

- name: Set one issuer explicitly
  openzro.ozrepair.ozrepair:
    action: fix
    connector: d4s1a2b3c4d5e6f7g8h9
    issuer: https://oauth.id.jumpcloud.com/

- name: Set the local admin's password from a vaulted variable (never logged, passed on stdin)
  openzro.ozrepair.ozrepair:
    action: password
    email: admin@example.com
    new_password: "{{ vault_netbird_admin_password }}"

- name: Take a backup before an upgrade
  openzro.ozrepair.ozrepair:
    action: backup
    backup_dir: /srv/ozrepair-backups
'''

RETURN = r'''
result:
  description: The report's result.
  returned: when ozrepair printed a report
  type: str
  sample: fixed
changes:
  description: The planned (check mode, inspect) or applied changes.
  returned: when ozrepair printed a report
  type: list
  elements: dict
  sample:
    - connector: d4s1a2b3c4d5e6f7g8h9
      field: issuer
      from: https://oauth.id.jumpcloud.com
      to: https://oauth.id.jumpcloud.com/
      source: logs
      evidence: 'oidc: issuer did not match the issuer returned by provider, ...'
pending:
  description: Whether changes are pending (a plan exists that was not applied).
  returned: when ozrepair printed a report
  type: bool
  sample: false
backup:
  description: The backup taken (path, sha256, dir), or null.
  returned: when ozrepair printed a report
  type: dict
  sample: {"path": "/var/lib/docker/volumes/x/_data/ozrepair-backups/20260101T000000Z/idp.db", "sha256": "...", "dir": "..."}
password_change:
  description: I(action=password) - the user (email, user_id), the local sessions removed (or that would
    be), and whether the new password was written. Never the password or a hash.
  returned: with I(action=password), once the user was found
  type: dict
  sample: {"email": "admin@example.com", "user_id": "...", "sessions_removed": 2, "applied": true}
error:
  description: The report's one-line error, or null.
  returned: when ozrepair printed a report
  type: str
  sample: null
report:
  description: The whole JSON report of ozrepair (contract v1), secrets redacted.
  returned: when ozrepair printed a report
  type: dict
exit_code:
  description:
    - ozrepair's exit code (0 done, 1 failed, 2 usage, 3 changes pending, 4 applied but not up).
    - Named so because Ansible reads a non-zero C(rc) as a failure, and exit code 3 is not one.
  returned: when ozrepair ran
  type: int
  sample: 0
cmd:
  description: The command that ran on the target.
  returned: when ozrepair ran
  type: list
  elements: str
  sample: ["/usr/local/bin/ozrepair", "--output", "json", "fix", "--yes"]
'''

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

REDACTED = '[redacted]'
SECRET_KEY = re.compile(r'(secret|passw|bindpw|token|private.?key|credential|apikey|api_key)', re.I)
# Report fields named like a secret that hold none (their values are still scrubbed one by one).
NOT_SECRET_KEYS = frozenset(['password_change'])
URL_PASSWORD = re.compile(r'(://[^/@:\s]*):[^/@\s]*@')


def scrub(value):
    """A copy of value with every string under a secret-like key redacted, and no password in a URL."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if SECRET_KEY.search(str(k)) and k not in NOT_SECRET_KEYS and v not in (None, '', REDACTED):
                out[k] = REDACTED
            else:
                out[k] = scrub(v)
        return out
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return URL_PASSWORD.sub(r'\1:' + REDACTED + '@', value)
    return value


def build_command(p, check_mode):
    """The argv for this action, and whether it is the read-only stand-in of a writing action."""
    argv = [p['binary'], '--output', 'json']
    for flag, key in (('-H', 'docker_host'), ('--container', 'container'), ('--volume', 'volume'),
                      ('--unit', 'unit'), ('--db', 'db'), ('--access', 'access')):
        if p[key]:
            argv += [flag, p[key]]
    action = p['action']
    if action == 'inspect' or (action == 'backup' and check_mode):
        argv.append('inspect')
        if p['discover']:
            argv.append('--discover')
        return argv
    if action == 'restore' and check_mode:
        argv.append('backups')
        if p['backup_dir']:
            argv += ['--backup-dir', p['backup_dir']]
        return argv
    argv.append(action.replace('_', '-'))
    if action == 'local_login':
        argv += ['--enable', '--dry-run' if check_mode else '--yes']
    elif action == 'password':
        argv += ['--email', p['email'], '--password-file', p['password_file'] or '-']
        argv.append('--dry-run' if check_mode else '--yes')
    elif action == 'fix':
        argv.append('--dry-run' if check_mode else '--yes')
        if p['connector']:
            argv += ['--connector', p['connector']]
        if p['issuer']:
            argv += ['--issuer', p['issuer']]
        if p['discover']:
            argv.append('--discover')
    else:
        argv.append('--yes')
    if p['backup_dir']:
        argv += ['--backup-dir', p['backup_dir']]
    if p['wait'] is not None and action in ('fix', 'restore', 'password', 'local_login'):
        argv += ['--wait', str(p['wait'])]
    return argv


def diffs_of(changes):
    """One before/after pair per change, secret fields redacted."""
    out = []
    for c in changes:
        field = str(c.get('field', ''))
        secret = bool(SECRET_KEY.search(field))
        before = REDACTED if secret else c.get('from')
        after = REDACTED if secret else c.get('to')
        if c.get('store') == 'file':
            where = '%s at %s (connector %s)' % (c.get('file'), c.get('at'), c.get('connector'))
        else:
            where = 'connector %s' % c.get('connector')
        out.append({
            'before_header': '%s: %s' % (where, field),
            'after_header': '%s: %s (from %s)' % (where, field, c.get('source')),
            'before': '%s: %s\n' % (field, json.dumps(before)),
            'after': '%s: %s\n' % (field, json.dumps(after)),
        })
    return out


def written(report):
    """Whether the database's bytes changed during the run (a failed fix may still have written)."""
    db = report.get('database') or {}
    after = db.get('sha256_after')
    return bool(after) and after != db.get('sha256_before')


def last_line(text):
    lines = [ln.strip() for ln in (text or '').splitlines() if ln.strip()]
    return lines[-1][:500] if lines else ''


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type='str', default='fix',
                        choices=['inspect', 'fix', 'backup', 'restore', 'password', 'local_login']),
            docker_host=dict(type='str'),
            container=dict(type='str'),
            volume=dict(type='str'),
            unit=dict(type='str'),
            db=dict(type='path'),
            access=dict(type='str', choices=['auto', 'host', 'archive']),
            connector=dict(type='str'),
            issuer=dict(type='str'),
            email=dict(type='str'),
            password_file=dict(type='path', no_log=False),
            new_password=dict(type='str', no_log=True),
            discover=dict(type='bool', default=False),
            wait=dict(type='int'),
            backup_dir=dict(type='path'),
            binary=dict(type='path', default='/usr/local/bin/ozrepair'),
        ),
        mutually_exclusive=[('db', 'container'), ('db', 'volume'), ('unit', 'container'), ('unit', 'volume'),
                            ('unit', 'db'), ('password_file', 'new_password')],
        required_if=[('action', 'password', ('email',)),
                     ('action', 'password', ('password_file', 'new_password'), True)],
        supports_check_mode=True,
    )
    p = module.params
    action = p['action']
    check = module.check_mode
    if p['wait'] is not None and p['wait'] < 0:
        module.fail_json(msg='wait must be 0 or more seconds')
    if not (os.path.isfile(p['binary']) and os.access(p['binary'], os.X_OK)):
        module.fail_json(msg='the ozrepair binary %s is not an executable file on this host: install the '
                             'static binary (the openzro.ozrepair.ozrepair role does) or set binary' % p['binary'])

    argv = build_command(p, check)
    # The password itself only ever goes to ozrepair's stdin (a newline is appended).
    stdin = p['new_password'] if action == 'password' and p['new_password'] else None
    rc, out, err = module.run_command(argv, data=stdin, environ_update={'NO_COLOR': '1'})
    cmd = scrub(argv)
    try:
        report = json.loads(out)
        if not isinstance(report, dict):
            raise ValueError('not an object')
    except ValueError:
        module.fail_json(
            msg='ozrepair exited %d without a JSON report on stdout: %s' % (rc, scrub(last_line(err)) or 'no output'),
            exit_code=rc, cmd=cmd)
    report = scrub(report)

    result = report.get('result')
    error = report.get('error')
    changes = report.get('changes') or []
    ret = dict(exit_code=rc, cmd=cmd, report=report, result=result, error=error, backup=report.get('backup'),
               changes=changes, pending=(result == 'pending'), changed=False,
               password_change=report.get('password_change'))
    if module._diff and changes:
        ret['diff'] = diffs_of(changes)

    if action == 'restore' and check:
        # `backups` lists what there is; a restore would put the newest one back.
        ret['pending'] = False
        if rc != 0:
            module.fail_json(msg=error or 'ozrepair backups exited %d' % rc, **ret)
        if not report.get('backups'):
            module.fail_json(msg='check mode: there is no backup to restore', **ret)
        ret['changed'] = True
        ret['msg'] = 'check mode: would restore the newest backup, %s' % report['backups'][0].get('dir')
        module.exit_json(**ret)
    if action == 'backup' and check:
        # `inspect` proved the deployment is found and readable; a backup would be taken.
        ret['pending'] = False
        if rc not in (0, 3):
            module.fail_json(msg=error or 'ozrepair inspect exited %d' % rc, **ret)
        ret['changed'] = True
        ret['msg'] = 'check mode: would take a backup (the container would be stopped around it)'
        module.exit_json(**ret)

    read_only = action == 'inspect' or check
    if read_only:
        if rc not in (0, 3):
            module.fail_json(msg=error or 'ozrepair exited %d' % rc, **ret)
        ret['changed'] = rc == 3
        if action == 'password' and rc == 3:
            ret['msg'] = 'pending: the password of %s would be set' % p['email']
        else:
            ret['msg'] = '%s: %d change(s) planned' % (result, len(changes)) if rc == 3 else result
        module.exit_json(**ret)

    ret['pending'] = False
    if rc == 0:
        applied = bool((report.get('password_change') or {}).get('applied'))
        ret['changed'] = bool(changes) or applied or action in ('backup', 'restore')
        ret['msg'] = result if action == 'fix' else '%s: %s' % (action, result)
        module.exit_json(**ret)
    if rc == 4:
        ret['changed'] = True
        module.fail_json(msg=error or 'the change was applied but the container did not stay up', **ret)
    ret['changed'] = written(report)
    module.fail_json(msg=error or 'ozrepair exited %d' % rc, **ret)


if __name__ == '__main__':
    main()
