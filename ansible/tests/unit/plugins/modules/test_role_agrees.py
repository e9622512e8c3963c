# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0.txt)
"""The role offers every option of the module under the same name (ozrepair_ + the option's), type,
choices and default; its argument spec and its defaults/main.yml agree; its task passes each option."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import yaml

from ansible_collections.openzro.ozrepair.plugins.module_utils import ozrepair as cli
from ansible_collections.openzro.ozrepair.plugins.modules import ozrepair as module_ozrepair

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'ozrepair')
# Variables of the role that are not module options: how the binary is installed and the run is made.
ROLE_ONLY = frozenset(['ozrepair_binary_src', 'ozrepair_binary_sha256', 'ozrepair_install_path',
                       'ozrepair_install_owner', 'ozrepair_install_group', 'ozrepair_install_mode',
                       'ozrepair_throttle', 'ozrepair_pipelining'])
# Module options the role sets itself.
MODULE_ONLY = frozenset(['binary'])
# Options that are no_log in the module but not in the role's spec: the argument-spec validation of
# ansible-core 2.14 (Debian 12's) fails on a vaulted value of a no_log option (it cannot list the value to
# hide it). The role passes the variable to the module's no_log option only.
NO_LOG_IN_MODULE_ONLY = frozenset(['new_password', 'new_secret'])


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as f:
        return yaml.safe_load(f)


def role_spec():
    return load('meta', 'argument_specs.yml')['argument_specs']['main']['options']


def module_spec():
    actions = module_ozrepair.ACTIONS
    return cli.argument_spec(actions, action=dict(type='str', required=True, choices=actions))


def unset(spec):
    """The role's default for an option the module leaves unset: an empty string (omitted)."""
    return {'list': [], 'bool': False}.get(spec['type'], '')


def test_every_module_option_is_a_role_variable_of_the_same_shape():
    role = role_spec()
    for name, spec in module_spec().items():
        if name in MODULE_ONLY:
            continue
        var = role['ozrepair_' + name]
        assert var['type'] == spec['type'], name
        assert var.get('choices') == spec.get('choices'), name
        assert var.get('elements') == spec.get('elements'), name
        assert var.get('no_log', False) == (spec.get('no_log', False) and name not in NO_LOG_IN_MODULE_ONLY), name
        if name == 'action':
            # The role's one difference: it defaults to the read-only inspect.
            assert var['default'] == 'inspect'
        else:
            assert var['default'] == spec.get('default', unset(spec)), name
    extra = set(role) - set('ozrepair_' + n for n in module_spec()) - ROLE_ONLY
    assert not extra, 'role variables that are no module option: %s' % sorted(extra)


def test_the_spec_and_the_defaults_agree():
    role = role_spec()
    defaults = load('defaults', 'main.yml')
    for name, spec in role.items():
        if spec.get('required'):
            assert 'default' not in spec and name not in defaults, name
        else:
            assert name in defaults, name
            assert defaults[name] == spec['default'], name
    assert set(defaults) <= set(role)


def test_the_task_passes_every_option():
    tasks = load('tasks', 'main.yml')
    run = [t for t in tasks if t.get('name') == 'Run ozrepair'][0]
    call = [t for t in run['block'] if 'openzro.ozrepair.ozrepair' in t][0]
    args = call['openzro.ozrepair.ozrepair']
    assert set(args) == set(module_spec())
    for name, value in args.items():
        if name == 'binary':
            assert value == '{{ ozrepair_install_path }}'
        else:
            assert 'ozrepair_%s ' % name in value or 'ozrepair_%s}' % name in value.replace(' ', ''), (name, value)
