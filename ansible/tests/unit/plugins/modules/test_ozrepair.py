# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0.txt)
"""The modules against ozrepair's own JSON answers, replayed.

Each fixture in fixtures/ is one real run of the binary (recorded, and held to the binary's answers, by
tests/suite/ansible_collection.rs in the repository): the module parameters it stands for, the argv the
module builds for them (the binary and the database or engine as placeholders), its exit code and its
report. run_command is replaced by one that checks the argv and answers with the recorded report.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import copy
import json
import os
import stat

import pytest

from ansible.module_utils import basic
from ansible_collections.openzro.ozrepair.plugins.module_utils import ozrepair as cli
from ansible_collections.openzro.ozrepair.plugins.modules import ozrepair as module_ozrepair
from ansible_collections.openzro.ozrepair.plugins.modules import ozrepair_info as module_info

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args):
        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
PASSWORD = 'Brand-New-Passw0rd-7'
SECRET = 'rotated-client-secret-4f2a9c'


def fixture(name):
    with open(os.path.join(FIXTURES, name + '.json')) as f:
        return json.load(f)


class Exit(Exception):
    def __init__(self, failed, result):
        super(Exit, self).__init__(result.get('msg'))
        self.failed = failed
        self.result = result


@pytest.fixture
def binary(tmp_path):
    """An executable file to stand for the binary (the module checks that it is one)."""
    path = tmp_path / 'ozrepair'
    path.write_text(u'#!/bin/sh\nexit 99\n')
    path.chmod(stat.S_IRWXU)
    return str(path)


def run(module, params, answer, check=False, diff=False, calls=None):
    """Runs ``module`` with ``params``; ozrepair answers (rc, stdout, stderr) = ``answer``. Returns
    (failed, result); every run_command call's (argv, data) is appended to ``calls``."""
    if calls is None:
        calls = []

    def run_command(self, argv, data=None, **kwargs):
        calls.append((list(argv), data))
        return answer

    def exit_json(self, **kwargs):
        raise Exit(False, kwargs)

    def fail_json(self, **kwargs):
        raise Exit(True, kwargs)

    args = dict(params, _ansible_check_mode=check, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(basic.AnsibleModule, 'run_command', run_command)
            mp.setattr(basic.AnsibleModule, 'exit_json', exit_json)
            mp.setattr(basic.AnsibleModule, 'fail_json', fail_json)
            with pytest.raises(Exit) as e:
                module.main()
    return e.value.failed, e.value.result


def replay(name, binary, module=module_ozrepair, rc=None, extra=None, drop=(), result=None):
    """Runs the module with the fixture's parameters (less ``drop``, plus ``extra``), answered by its
    recorded report (its result replaced by ``result`` if given); checks that the module ran the fixture's
    argv. Returns (failed, result, calls)."""
    f = fixture(name)
    if result is not None:
        f['report']['result'] = result
    target = f['target']
    params = dict((k, v) for k, v in f['params'].items() if k not in drop)
    params['binary'] = binary
    params.update(extra or {})
    for k, v in params.items():
        if isinstance(v, str):
            params[k] = v.replace('{target}', target)
    calls = []
    answer = (f['exit_code'] if rc is None else rc, json.dumps(f['report']), '')
    failed, result = run(module, params, answer, check=f.get('check', False), diff=True, calls=calls)
    expected = [binary] + [a.replace('{target}', target) for a in f['argv']]
    assert calls[0][0] == expected
    return failed, result, calls


def test_every_action_is_a_command_and_the_choices_agree():
    spec = cli.argument_spec(module_ozrepair.ACTIONS)
    assert set(module_ozrepair.ACTIONS) == set(cli.COMMANDS)
    assert all(not cli.COMMANDS[q].writes for q in module_info.QUERIES)
    for o in cli.OPTIONS:
        assert o.name in spec, o.name


@pytest.mark.parametrize('action,check,tail', [
    ('inspect', False, ['inspect']),
    ('inspect', True, ['inspect']),
    ('backups', True, ['backups']),
    ('fix', False, ['fix', '--yes']),
    ('fix', True, ['fix', '--dry-run']),
    ('backup', False, ['backup', '--yes']),
    ('backup', True, ['inspect']),
    ('restore', False, ['restore', '--yes']),
    ('restore', True, ['backups']),
    ('local_login', False, ['local-login', '--enable', '--yes']),
    ('local_login', True, ['local-login', '--enable', '--dry-run']),
    ('password', False, ['password', '--yes']),
    ('password', True, ['password', '--dry-run']),
    ('secret', False, ['secret', '--yes']),
    ('secret', True, ['secret', '--dry-run']),
    ('domain', False, ['domain', '--apply', '--yes']),
    ('domain', True, ['domain']),
])
def test_each_action_runs_its_command_and_under_check_mode_only_a_read_only_one(action, check, tail):
    params = dict((o.name, None) for o in cli.OPTIONS)
    params.update(binary='/b', access=None, wait=None)
    argv, stdin, ran = cli.command_line(params, action, check)
    assert argv[:3] == ['/b', '--output', 'json']
    assert argv[3:3 + len(tail)] == tail
    assert ran == tail[0]
    assert stdin is None
    assert '--yes' not in argv or not check


SAMPLES = {'str': 'v-1', 'path': '/p/1', 'int': 7, 'bool': True, 'list': ['c.f=v', 'c.g=w']}


@pytest.mark.parametrize('option', cli.OPTIONS, ids=lambda o: o.name)
def test_each_option_goes_to_the_commands_that_take_it_and_no_other(option):
    for action, command in sorted(cli.COMMANDS.items()):
        params = dict((o.name, None) for o in cli.OPTIONS)
        params['binary'] = '/b'
        needs = option.requires.values() if isinstance(option.requires, dict) else [option.requires]
        for n in needs:
            if n:
                params[n] = True
        value = SAMPLES[option.spec['type']]
        params[option.name] = value
        argv, stdin, ran = cli.command_line(params, action, False)
        if option.takes(command.name):
            if option.kind == cli.STDIN:
                assert argv[argv.index(option.flag) + 1] == '-'
                assert stdin == value
            elif option.kind == cli.SWITCH:
                assert option.flag in argv
            elif option.kind == cli.EACH:
                assert [argv[i + 1] for i, a in enumerate(argv) if a == option.flag] == value
            else:
                assert argv[argv.index(option.flag) + 1] == str(value)
            # Global options go before the command, the command's own after it.
            before = argv.index(option.flag) < argv.index(ran)
            assert before == (option.commands is None)
        else:
            assert option.flag not in argv
        # Unset, it is not on the command line.
        params[option.name] = None if option.spec['type'] != 'list' else []
        if option.spec['type'] == 'bool':
            params[option.name] = False
        argv, stdin, ran = cli.command_line(params, action, False)
        assert option.flag not in argv
        assert stdin is None


def test_an_option_that_needs_discover_goes_only_with_it():
    params = dict((o.name, None) for o in cli.OPTIONS)
    params.update(binary='/b', ca_file='/ca.pem', discover_timeout=5, allow_http=True, discover=False)
    argv = cli.command_line(params, 'inspect', False)[0]
    assert '--ca-file' not in argv and '--discover-timeout' not in argv and '--allow-http' not in argv
    params['discover'] = True
    argv = cli.command_line(params, 'inspect', False)[0]
    assert argv[-6:] == ['--discover', '--ca-file', '/ca.pem', '--allow-http', '--discover-timeout', '5']


def test_ca_file_and_allow_http_go_with_verify_for_secret():
    params = dict((o.name, None) for o in cli.OPTIONS)
    params.update(binary='/b', connector='c', secret_file='/s', ca_file='/ca.pem', allow_http=True, discover=True,
                  verify=False, verify_timeout=5)
    argv = cli.command_line(params, 'secret', False)[0]
    # --discover is not secret's: it does not bring them along.
    assert '--ca-file' not in argv and '--allow-http' not in argv and '--verify-timeout' not in argv
    params['verify'] = True
    argv = cli.command_line(params, 'secret', False)[0]
    tail = argv[argv.index('secret'):]
    for words in (['--verify'], ['--ca-file', '/ca.pem'], ['--allow-http'], ['--verify-timeout', '5']):
        i = tail.index(words[0])
        assert tail[i:i + len(words)] == words


def test_inspect_with_a_fix_pending_is_not_changed_and_returns_the_plan(binary):
    failed, r, unused_calls = replay('inspect-pending', binary)
    assert not failed
    assert r['changed'] is False
    assert r['exit_code'] == 3
    assert r['pending'] is True and r['healthy'] is False
    assert r['plan'] and r['plan'] == r['changes']
    assert r['plan'][0]['field'] == 'issuer'
    assert r['diff'][0]['before'].startswith('issuer: ')


def test_inspect_is_not_changed_under_check_mode_either(binary):
    f = fixture('inspect-pending')
    failed, r = run(module_ozrepair, dict(f['params'], binary=binary, docker_host=f['target']),
                    (3, json.dumps(f['report']), ''), check=True)
    assert not failed and r['changed'] is False and r['pending'] is True


def test_the_info_module_is_never_changed_and_says_what_is_pending(binary):
    f = fixture('inspect-pending')
    params = dict((k, v) for k, v in f['params'].items() if k != 'action')
    params.update(binary=binary, docker_host=f['target'])
    calls = []
    failed, r = run(module_info, params, (3, json.dumps(f['report']), ''), calls=calls)
    assert not failed and r['changed'] is False
    assert r['pending'] is True and r['plan'] and r['healthy'] is False
    assert calls[0][0] == [binary] + [a.replace('{target}', f['target']) for a in f['argv']]


def test_the_info_module_lists_backups(binary):
    failed, r, unused_calls = replay('backups', binary, module=module_info, extra={'query': 'backups'}, drop=('action',))
    assert not failed and r['changed'] is False
    assert r['backups'] and r['backups'][0]['dir']


def test_a_healthy_inspect_is_healthy(binary):
    failed, r, unused_calls = replay('inspect-healthy', binary)
    assert not failed and r['changed'] is False
    assert r['healthy'] is True and r['pending'] is False and r['plan'] == []


def test_fix_under_check_mode_is_changed_when_a_plan_exists(binary):
    failed, r, unused_calls = replay('fix-dry-run', binary)
    assert not failed
    assert r['changed'] is True and r['pending'] is True and r['plan']


def test_fix_applied_is_changed_with_the_backup_and_no_plan(binary):
    failed, r, unused_calls = replay('fix', binary)
    assert not failed
    assert r['changed'] is True and r['pending'] is False and r['plan'] == []
    assert r['result'] == 'fixed' and r['backup']['dir']
    assert r['diff'][0]['after'].startswith('issuer: ')


def test_exit_4_is_changed_and_failed_with_ozrepairs_message(binary):
    f = fixture('fix')
    report = copy.deepcopy(f['report'])
    report.update(result='unverified', error='the change is written but the container did not stay up within 30 s')
    params = dict(f['params'], binary=binary, docker_host=f['target'])
    failed, r = run(module_ozrepair, params, (4, json.dumps(report), ''))
    assert failed and r['changed'] is True
    assert r['msg'] == report['error']


def test_a_failed_run_fails_with_the_reports_error(binary):
    failed, r, unused_calls = replay('failed', binary)
    assert failed
    assert r['msg'] == r['report']['error'] and r['exit_code'] == 1
    assert r['changed'] is False


def test_a_usage_error_fails_with_the_reports_error(binary):
    failed, r, unused_calls = replay('usage', binary)
    assert failed and r['exit_code'] == 2 and r['msg'] == r['report']['error']


def test_no_json_report_fails_with_the_last_line_of_stderr(binary):
    failed, r = run(module_ozrepair, dict(action='inspect', binary=binary),
                    (101, '', 'thread main panicked\nsomething: secret://u:hunter2@x\n'))
    assert failed
    assert 'without a JSON report' in r['msg'] and 'hunter2' not in r['msg']


def test_a_missing_binary_fails_before_anything_runs(tmp_path):
    calls = []
    failed, r = run(module_ozrepair, dict(action='inspect', binary=str(tmp_path / 'nope')), (0, '{}', ''), calls=calls)
    assert failed and 'not an executable file' in r['msg'] and calls == []


def test_backup_under_check_mode_would_take_one(binary):
    f = fixture('inspect-healthy')
    params = dict(f['params'], action='backup', binary=binary, docker_host=f['target'])
    calls = []
    failed, r = run(module_ozrepair, params, (0, json.dumps(f['report']), ''), check=True, calls=calls)
    assert not failed and r['changed'] is True and 'would take a backup' in r['msg']
    assert calls[0][0][-1] == 'inspect'


def test_restore_under_check_mode_names_the_set_it_would_put_back(binary):
    f = fixture('backups')
    params = dict(f['params'], action='restore', binary=binary, docker_host=f['target'])
    failed, r = run(module_ozrepair, params, (0, json.dumps(f['report']), ''), check=True)
    assert not failed and r['changed'] is True
    assert f['report']['backups'][0]['dir'] in r['msg']
    empty = dict(f['report'], backups=[])
    failed, r = run(module_ozrepair, params, (0, json.dumps(empty), ''), check=True)
    assert failed and 'no backup to restore' in r['msg']


def test_the_password_goes_on_stdin_and_nowhere_else(binary):
    report = {'schema_version': 1, 'command': 'password', 'result': 'fixed', 'error': None, 'changes': [],
              'password_change': {'email': 'a@example.com', 'user_id': 'u-1', 'sessions_removed': 1,
                                  'applied': True}}
    calls = []
    failed, r = run(module_ozrepair, dict(action='password', email='a@example.com', new_password=PASSWORD,
                                          binary=binary), (0, json.dumps(report), ''), calls=calls)
    assert not failed and r['changed'] is True
    argv, data = calls[0]
    assert data == PASSWORD
    assert PASSWORD not in argv and PASSWORD not in json.dumps(r)
    assert argv[argv.index('--password-file') + 1] == '-'


def test_password_needs_an_email_and_one_source(binary):
    failed, r = run(module_ozrepair, dict(action='password', new_password=PASSWORD, binary=binary), (0, '{}', ''))
    assert failed and 'email' in r['msg']
    failed, r = run(module_ozrepair, dict(action='password', email='a@example.com', binary=binary), (0, '{}', ''))
    assert failed and 'new_password' in r['msg']


def test_action_is_required(binary):
    failed, r = run(module_ozrepair, dict(binary=binary), (0, '{}', ''))
    assert failed and 'action' in r['msg']


def test_secrets_in_a_report_are_scrubbed(binary):
    f = fixture('inspect-pending')
    report = copy.deepcopy(f['report'])
    report['connectors'][0]['endpoints'] = {'clientSecret': 'sekrit-value', 'issuer': 'https://u:pw@idp.example'}
    failed, r = run(module_ozrepair, dict(f['params'], binary=binary, docker_host=f['target']),
                    (3, json.dumps(report), ''))
    text = json.dumps(r)
    assert 'sekrit-value' not in text and ':pw@' not in text
    assert r['report']['connectors'][0]['endpoints']['clientSecret'] == cli.REDACTED


@pytest.mark.parametrize('name', ['inspect-healthy', 'fix'])
def test_unchecked_exit_5_is_not_a_failure_and_not_healthy(binary, name):
    failed, r, unused_calls = replay(name, binary, rc=5, result='unchecked')
    assert not failed
    assert r['exit_code'] == 5
    assert r['unchecked'] is True and r['healthy'] is False
    assert r['result'] == 'unchecked'


@pytest.mark.parametrize('name', ['inspect-healthy', 'fix'])
def test_action_needed_exit_6_fails_the_task(binary, name):
    failed, r, unused_calls = replay(name, binary, rc=6, result='action_needed')
    assert failed
    assert r['exit_code'] == 6
    assert r['healthy'] is False


def test_secret_under_check_mode_is_its_dry_run_and_changed_when_pending(binary):
    failed, r, calls = replay('secret-dry-run', binary)
    assert not failed
    assert r['changed'] is True and r['pending'] is True
    assert r['secret_change']['applied'] is False and r['secret_change']['bytes'] > 0
    assert 'would be set' in r['msg']
    assert '--dry-run' in calls[0][0] and '--yes' not in calls[0][0]
    # The diff shows where and how long, never a value.
    assert all(cli.REDACTED in d['after'] for d in r['diff'])


def test_secret_applied_unverified_is_changed_and_says_so(binary):
    failed, r, unused_calls = replay('secret', binary)
    assert not failed
    assert r['changed'] is True and r['result'] == 'unverified'
    assert r['secret_change']['applied'] is True and r['secret_change']['verified'] == 'not_asked'
    assert r['backup']['dir']


def test_the_secret_goes_on_stdin_and_nowhere_else(binary):
    f = fixture('secret')
    calls = []
    params = dict(action='secret', connector='okta', new_secret=SECRET, verify=True, binary=binary)
    failed, r = run(module_ozrepair, params, (0, json.dumps(f['report']), ''), calls=calls, diff=True)
    assert not failed and r['changed'] is True
    argv, data = calls[0]
    assert data == SECRET
    assert SECRET not in argv and SECRET not in json.dumps(r)
    assert argv[argv.index('--secret-file') + 1] == '-'
    assert '--verify' in argv


def test_secret_already_stored_is_unchecked_and_not_changed(binary):
    f = fixture('secret')
    report = copy.deepcopy(f['report'])
    report.update(result='unchecked', changes=[], backup=None,
                  notes=['the secret is already stored; its provider was not asked (--verify asks it)'])
    report['secret_change']['applied'] = False
    failed, r = run(module_ozrepair, dict(action='secret', connector='okta', new_secret=SECRET, binary=binary),
                    (5, json.dumps(report), ''))
    assert not failed and r['changed'] is False and r['unchecked'] is True
    assert 'already stored' in r['msg']


def test_a_secret_the_provider_refuses_fails_the_task_unchanged(binary):
    f = fixture('secret')
    report = copy.deepcopy(f['report'])
    report.update(result='failed', changes=[], backup=None,
                  error='the provider refused the new secret (invalid_client); nothing was changed')
    report['database']['sha256_after'] = None
    report['secret_change'].update(applied=False, verified='refused')
    failed, r = run(module_ozrepair, dict(action='secret', connector='okta', new_secret=SECRET, verify=True,
                                          binary=binary), (1, json.dumps(report), ''))
    assert failed and r['changed'] is False
    assert r['msg'] == report['error'] and r['secret_change']['verified'] == 'refused'


def test_secret_needs_a_connector_and_one_source(binary):
    failed, r = run(module_ozrepair, dict(action='secret', new_secret=SECRET, binary=binary), (0, '{}', ''))
    assert failed and 'connector' in r['msg']
    failed, r = run(module_ozrepair, dict(action='secret', connector='okta', binary=binary), (0, '{}', ''))
    assert failed and 'new_secret' in r['msg']
    failed, r = run(module_ozrepair, dict(action='secret', connector='okta', new_secret=SECRET, secret_file='/s',
                                          binary=binary), (0, '{}', ''))
    assert failed and 'mutually exclusive' in r['msg']
    assert SECRET not in json.dumps(r)


def test_domain_under_check_mode_is_its_dry_run(binary):
    failed, r, calls = replay('domain-dry-run', binary)
    assert not failed
    assert r['changed'] is True and r['pending'] is True and r['plan']
    assert '--apply' not in calls[0][0] and '--yes' not in calls[0][0]
    assert r['diff'][0]['after'].startswith('redirectURI: ')
    assert any('DNS' in n for n in r['report']['notes'])


def test_domain_applied_is_changed_with_the_backup(binary):
    failed, r, calls = replay('domain', binary)
    assert not failed
    assert r['changed'] is True and r['result'] == 'fixed' and r['plan'] == []
    assert calls[0][0][-2:] == ['--wait', '30'] and '--apply' in calls[0][0]
    assert r['backup']['dir']


def test_domain_needs_to(binary):
    failed, r = run(module_ozrepair, dict(action='domain', binary=binary), (0, '{}', ''))
    assert failed and 'to' in r['msg']
