# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0.txt)
"""ozrepair's command line as the collection's modules offer it (docs/cli-contract.md, v1).

Two tables say everything the modules know about the command line:

- ``OPTIONS``: one entry per option of ozrepair that makes sense on a host: the module option's name and
  argument spec (the same name, type and choices as the contract's flag), the flag, how the value goes on
  the command line, and the commands that take it. A new option (a runtime's ``--unit``, say) is one
  entry here, plus its documentation (ansible-test's validate-modules holds the two to each other).
- ``COMMANDS``: one entry per module action: the ozrepair command it runs, and what runs instead under
  check mode. A new command (``secret``, ``domain``) is one entry here, plus its options in ``OPTIONS``.

``argument_spec`` builds a module's argument spec from them, ``command_line`` the argv of one run, and
``run`` runs ozrepair once and exits the module with the report turned into an Ansible result.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

# How an option's value goes on the command line.
VALUE = 'value'    # FLAG VALUE, when the value is set
SWITCH = 'switch'  # FLAG, when the value is true
EACH = 'each'      # FLAG VALUE for each element of the list
STDIN = 'stdin'    # FLAG -, and the value on ozrepair's standard input (never on a command line)

# Under check mode: the same command with --dry-run.
DRY_RUN = '--dry-run'


class Option(object):
    """One option: ``commands`` is None for a global option (every command takes it); ``requires`` names
    the option it needs (it goes on the command line only when that one is set too), or maps a command to
    the option it needs with that command."""

    def __init__(self, name, spec, flag, kind, commands, requires=None):
        self.name = name
        self.spec = spec
        self.flag = flag
        self.kind = kind
        self.commands = None if commands is None else frozenset(commands)
        self.requires = requires

    def takes(self, command):
        return self.commands is None or command in self.commands

    def needs(self, command):
        """The option this one needs with ``command``, or None."""
        if isinstance(self.requires, dict):
            return self.requires.get(command)
        return self.requires

    def words(self, value):
        """The argv words for ``value``; none when it is not set."""
        if value is None or value is False or value == [] or value == '':
            return []
        if self.kind == SWITCH:
            return [self.flag]
        if self.kind == EACH:
            out = []
            for v in value:
                out += [self.flag, str(v)]
            return out
        if self.kind == STDIN:
            return [self.flag, '-']
        return [self.flag, str(value)]


class Command(object):
    """A module action: the ozrepair command it runs, the flags that always go with it, and under check
    mode ``check``: None (the command only reads, it runs as it is), DRY_RUN (it runs as its own dry run),
    or the name of the read-only command that runs instead. A command that writes gets ``dry`` under check
    mode (``--dry-run``) and ``apply`` otherwise (``--yes``); ``domain`` is a dry run unless ``--apply``."""

    def __init__(self, name, check=None, fixed=(), dry=(DRY_RUN,), apply=('--yes',)):
        self.name = name
        self.check = check
        self.fixed = list(fixed)
        self.dry = list(dry)
        self.apply = list(apply)

    @property
    def writes(self):
        return self.check is not None


# The commands that discover, and those that stop, write, start and watch (the stop window).
DISCOVERING = ('inspect', 'fix')
WINDOW = ('fix', 'restore', 'password', 'local-login', 'secret', 'domain')
# --ca-file and --allow-http: with --discover for the commands that discover, with --verify for secret.
PROVIDER = {'inspect': 'discover', 'fix': 'discover', 'secret': 'verify'}

OPTIONS = (
    # The deployment: global options, every command takes them.
    Option('docker_host', dict(type='str', aliases=['host']), '-H', VALUE, None),
    Option('container', dict(type='str'), '--container', VALUE, None),
    Option('volume', dict(type='str'), '--volume', VALUE, None),
    Option('unit', dict(type='str'), '--unit', VALUE, None),
    Option('db', dict(type='path'), '--db', VALUE, None),
    Option('access', dict(type='str', choices=['auto', 'host', 'archive'], default='auto'), '--access', VALUE, None),
    # Asking the providers.
    Option('discover', dict(type='bool', default=False), '--discover', SWITCH, DISCOVERING),
    Option('ca_file', dict(type='path'), '--ca-file', VALUE, list(PROVIDER), requires=PROVIDER),
    Option('allow_http', dict(type='bool', default=False), '--allow-http', SWITCH, list(PROVIDER),
           requires=PROVIDER),
    Option('discover_timeout', dict(type='int', default=10), '--discover-timeout', VALUE, DISCOVERING,
           requires='discover'),
    # fix, secret
    Option('connector', dict(type='str'), '--connector', VALUE, ('fix', 'secret')),
    Option('issuer', dict(type='str'), '--issuer', VALUE, ('fix',)),
    Option('set', dict(type='list', elements='str', default=[]), '--set', EACH, ('fix',)),
    Option('issuer_alias', dict(type='bool', default=False), '--issuer-alias', SWITCH, ('fix',)),
    # password
    Option('email', dict(type='str'), '--email', VALUE, ('password',)),
    Option('password_file', dict(type='path', no_log=False), '--password-file', VALUE, ('password',)),
    Option('new_password', dict(type='str', no_log=True), '--password-file', STDIN, ('password',)),
    # secret
    Option('secret_file', dict(type='path', no_log=False), '--secret-file', VALUE, ('secret',)),
    Option('new_secret', dict(type='str', no_log=True), '--secret-file', STDIN, ('secret',)),
    Option('verify', dict(type='bool', default=False), '--verify', SWITCH, ('secret',)),
    Option('verify_timeout', dict(type='int', default=10), '--verify-timeout', VALUE, ('secret',),
           requires='verify'),
    # domain
    Option('to', dict(type='str'), '--to', VALUE, ('domain',)),
    Option('from', dict(type='str'), '--from', VALUE, ('domain',)),
    # restore
    Option('backup', dict(type='path'), '--backup', VALUE, ('restore',)),
    Option('allow_other_database', dict(type='bool', default=False), '--allow-other-database', SWITCH,
           ('restore',)),
    # The backups and the stop window.
    Option('backup_dir', dict(type='path'), '--backup-dir', VALUE, ('backup', 'backups') + WINDOW),
    Option('no_restart', dict(type='bool', default=False), '--no-restart', SWITCH, WINDOW),
    Option('wait', dict(type='int', default=30), '--wait', VALUE, WINDOW),
)

COMMANDS = {
    'inspect': Command('inspect'),
    'backups': Command('backups'),
    'fix': Command('fix', check=DRY_RUN),
    # Under check mode inspect proves the deployment is found and readable; a backup would be taken.
    'backup': Command('backup', check='inspect'),
    # Under check mode backups lists what a restore would put back.
    'restore': Command('restore', check='backups'),
    'password': Command('password', check=DRY_RUN),
    'local_login': Command('local-login', check=DRY_RUN, fixed=['--enable']),
    'secret': Command('secret', check=DRY_RUN),
    # domain is a dry run unless --apply.
    'domain': Command('domain', check=DRY_RUN, dry=(), apply=('--apply', '--yes')),
}

# Options of the modules themselves, not of ozrepair.
BINARY = dict(type='path', default='/usr/local/bin/ozrepair')


def argument_spec(actions, **own):
    """The argument spec of a module that runs ``actions``: every option one of their commands (or their
    check-mode stand-ins) takes, the binary, and the module's ``own`` options."""
    commands = set()
    for a in actions:
        c = COMMANDS[a]
        commands.add(c.name)
        if c.check not in (None, DRY_RUN):
            commands.add(c.check)
    spec = dict((o.name, dict(o.spec)) for o in OPTIONS if o.commands is None or o.commands & commands)
    spec['binary'] = dict(BINARY)
    spec.update(own)
    return spec


# The options no two of which go together, and what each action needs.
MUTUALLY_EXCLUSIVE = [('db', 'container'), ('db', 'volume'), ('unit', 'container'), ('unit', 'volume'),
                      ('unit', 'db'), ('password_file', 'new_password'), ('secret_file', 'new_secret')]
REQUIRED_IF = [('action', 'password', ('email',)),
               ('action', 'password', ('password_file', 'new_password'), True),
               ('action', 'secret', ('connector',)),
               ('action', 'secret', ('secret_file', 'new_secret'), True),
               ('action', 'domain', ('to',))]


def mutually_exclusive(spec):
    """The pairs of MUTUALLY_EXCLUSIVE that a module with argument spec ``spec`` has."""
    return [m for m in MUTUALLY_EXCLUSIVE if all(n in spec for n in m)]


def command_line(params, action, check_mode):
    """The argv for ``action`` (under check mode its read-only stand-in), the text for ozrepair's stdin
    (or None), and the name of the command that runs."""
    cmd = COMMANDS[action]
    run = cmd.name
    if check_mode and cmd.check not in (None, DRY_RUN):
        run = cmd.check
    head = [params['binary'], '--output', 'json']
    tail = [run]
    if run == cmd.name:
        tail += cmd.fixed
        if cmd.writes:
            tail.extend(cmd.dry if check_mode else cmd.apply)
    stdin = None
    for o in OPTIONS:
        needs = o.needs(run)
        if not o.takes(run) or (needs and not params.get(needs)):
            continue
        value = params.get(o.name)
        words = o.words(value)
        if words and o.kind == STDIN:
            stdin = value
        (head if o.commands is None else tail).extend(words)
    return head + tail, stdin, run


REDACTED = '[redacted]'
SECRET_KEY = re.compile(r'(secret|passw|bindpw|token|private.?key|credential|apikey|api_key)', re.I)
# Report fields named like a secret that hold none (their values are still scrubbed one by one).
NOT_SECRET_KEYS = frozenset(['password_change', 'secret_change'])
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


def newest_backup(report):
    """The set a restore without ``backup`` puts back: the newest that is not a pre-restore copy."""
    for b in report.get('backups') or []:
        if not str(b.get('dir', '')).rstrip('/').endswith('-pre-restore'):
            return b.get('dir')
    return None


def run(module, action):
    """Runs ozrepair once for ``action`` (under check mode its read-only stand-in) and exits the module:
    read-only runs are never changed; pending changes are in ``pending``, ``plan`` and the diff."""
    p = module.params
    check = module.check_mode
    binary = p['binary']
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        module.fail_json(msg='the ozrepair binary %s is not an executable file on this host: install the '
                             'static binary (the openzro.ozrepair.ozrepair role does) or set binary' % binary)
    argv, stdin, ran = command_line(p, action, check)
    # The password or secret itself only ever goes to ozrepair's stdin (run_command appends a newline, which
    # ozrepair drops as it drops one line end of a file).
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

    cmd_of = COMMANDS[action]
    applies = cmd_of.writes and not check
    result = report.get('result')
    error = report.get('error')
    changes = report.get('changes') or []
    ret = dict(
        changed=False, exit_code=rc, cmd=cmd, report=report, result=result, error=error,
        backup=report.get('backup'), changes=changes, plan=[] if applies else changes,
        pending=not applies and rc == 3, healthy=result == 'healthy',
        unchecked=result == 'unchecked',
        password_change=report.get('password_change'),
        secret_change=report.get('secret_change'),
    )
    if 'backups' in report:
        ret['backups'] = report['backups']
    if module._diff and changes:
        ret['diff'] = diffs_of(changes)

    # The contract's table of results (docs/cli-contract.md): 0 done, 3 pending and 5 unchecked (nothing
    # found, not every connector checked) are not failures; 4 (not up) and 6 (action needed) are.
    if not applies:
        if rc not in (0, 3, 5):
            module.fail_json(msg=error or 'ozrepair %s exited %d' % (ran, rc), **ret)
        if not cmd_of.writes:
            # inspect and backups read: never changed, whatever they found.
            ret['msg'] = '%s: %d change(s) pending' % (result, len(changes)) if rc == 3 else str(result)
            module.exit_json(**ret)
        if action == 'restore':
            target = p['backup'] or newest_backup(report)
            if p['backup'] and not os.path.isdir(p['backup']):
                module.fail_json(msg='check mode: the backup set %s is not a directory on this host' % p['backup'],
                                 **ret)
            if not target:
                module.fail_json(msg='check mode: there is no backup to restore', **ret)
            ret['changed'] = True
            ret['msg'] = 'check mode: would restore %s' % target
        elif action == 'backup':
            ret['pending'] = False
            ret['plan'] = []
            ret['changed'] = True
            ret['msg'] = 'check mode: would take a backup (the container would be stopped around it)'
        else:
            ret['changed'] = rc == 3
            if action == 'password' and rc == 3:
                ret['msg'] = 'pending: the password of %s would be set' % p['email']
            elif action == 'secret' and rc == 3:
                sc = report.get('secret_change') or {}
                ret['msg'] = 'pending: a new secret of %s bytes would be set in %s %s' % (
                    sc.get('bytes'), sc.get('connector'), sc.get('field'))
            else:
                ret['msg'] = '%s: %d change(s) planned' % (result, len(changes)) if rc == 3 else str(result)
        module.exit_json(**ret)

    if rc == 5:
        if action in ('secret', 'domain'):
            # secret: already stored, the provider not asked; domain: no place holds the old host.
            ret['msg'] = '%s: %s' % (result, last_line('\n'.join(report.get('notes') or [])) or 'nothing was changed')
        else:
            ret['msg'] = '%s: nothing found to fix, not every connector checked' % result
        module.exit_json(**ret)
    if rc == 0:
        applied = any(bool((report.get(k) or {}).get('applied')) for k in ('password_change', 'secret_change'))
        ret['changed'] = bool(changes) or applied or action in ('backup', 'restore')
        ret['msg'] = str(result) if action == 'fix' else '%s: %s' % (action, result)
        module.exit_json(**ret)
    if rc == 4:
        ret['changed'] = True
        module.fail_json(msg=error or 'the change was applied but the container did not stay up', **ret)
    ret['changed'] = written(report)
    module.fail_json(msg=error or 'ozrepair %s exited %d' % (ran, rc), **ret)
