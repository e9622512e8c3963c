#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: ozrepair_info
short_description: Read what is wrong with the IdP connectors of an openZro / NetBird deployment, or list its backups
version_added: "0.1.0"
description:
  - Runs C(ozrepair inspect) (or C(ozrepair backups)) once on the target and returns its JSON report. It
    never writes, stops or starts anything, and it is never C(changed), also when a fix is pending.
  - For monitoring playbooks - C(pending) and C(plan) say what a fix would change, C(healthy) is true only
    when nothing is wrong on this run's evidence. With I(discover) a provider that cannot be asked fails
    the task, because a check that could not be made is never reported as healthy.
  - Each option is ozrepair's flag of the same name (C(docker_host) is C(-H)/C(--host)).
options:
  query:
    description:
      - What to read. C(inspect) finds the deployment and reports its connectors and what is wrong.
        C(backups) lists the backup sets.
    type: str
    choices: [inspect, backups]
    default: inspect
  backup_dir:
    description:
      - Where the backups are (C(--backup-dir); I(query=backups)). Default is ozrepair's (beside the
        database; for the archive access, C(~/ozrepair-backups/CONTAINER)).
    type: path
extends_documentation_fragment:
  - openzro.ozrepair.ozrepair
  - openzro.ozrepair.ozrepair.discovery
notes:
  - The target needs the static ozrepair binary; the C(openzro.ozrepair.ozrepair) role installs it.
seealso:
  - module: openzro.ozrepair.ozrepair
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: It only reads, so it runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: none
  action_group:
    description: Use C(group/openzro.ozrepair.ozrepair) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - openzro.ozrepair.ozrepair
author:
  - ozrepair contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Check every deployment against its providers (a monitoring run)
  openzro.ozrepair.ozrepair_info:
    discover: true
  register: ozrepair_state
  failed_when: not ozrepair_state.healthy

- name: Say which hosts a fix would change
  ansible.builtin.debug:
    msg: "{{ ozrepair_state.plan | map(attribute='connector') | list }}"
  when: ozrepair_state.pending

- name: List the backups taken with the archive access
  openzro.ozrepair.ozrepair_info:
    query: backups
    access: archive
  register: ozrepair_backups
'''

RETURN = r'''
result:
  description:
    - The report's result (C(healthy), C(unchecked), C(pending), C(action_needed) or C(failed)), words of
      the contract's table of results.
  returned: when ozrepair printed a report
  type: str
  sample: pending
healthy:
  description: Whether the report's result is C(healthy) - nothing to fix, on this run's evidence.
  returned: when ozrepair printed a report
  type: bool
  sample: false
unchecked:
  description:
    - Whether the report's result is C(unchecked) - nothing found to fix, but not every connector could be
      checked in this run (no log lines of a start, no provider asked).
  returned: when ozrepair printed a report
  type: bool
  sample: false
pending:
  description: Whether a fix is pending (ozrepair's exit code 3).
  returned: when ozrepair printed a report
  type: bool
  sample: true
plan:
  description: The changes a fix would make.
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
changes:
  description: The same list as C(plan) (the report's C(changes)).
  returned: when ozrepair printed a report
  type: list
  elements: dict
backups:
  description: I(query=backups) - the backup sets, newest first.
  returned: when I(query=backups)
  type: list
  elements: dict
  sample:
    - dir: /var/lib/docker/volumes/root_openzro_management/_data/ozrepair-backups/idp.db-20261201T031209Z
      created: "2026-12-01T03:12:09.259953776Z"
      sha256: 0c5f6a2d9b1e4f7a8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b
      size: 98304
      connectors: [local, d4s1a2b3c4d5e6f7g8h9]
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
  description: ozrepair's exit code (0 healthy, 1 failed, 2 usage, 3 a fix is pending, 5 not every connector checked, 6 action needed).
  returned: when ozrepair ran
  type: int
  sample: 3
cmd:
  description: The command that ran on the target.
  returned: when ozrepair ran
  type: list
  elements: str
  sample: ["/usr/local/bin/ozrepair", "--output", "json", "--access", "auto", "inspect"]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openzro.ozrepair.plugins.module_utils.ozrepair import (
    argument_spec, mutually_exclusive, run,
)

QUERIES = ['inspect', 'backups']


def main():
    spec = argument_spec(QUERIES, query=dict(type='str', default='inspect', choices=QUERIES))
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=mutually_exclusive(spec),
        supports_check_mode=True,
    )
    run(module, module.params['query'])


if __name__ == '__main__':
    main()
