# -*- coding: utf-8 -*-
# Copyright: ozrepair contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """The options every module of the collection shares (ozrepair's global options and the binary), and
    the discovery options (inspect, fix). Their argument specs are in module_utils/ozrepair.py (OPTIONS)."""

    DOCUMENTATION = r'''
options:
  docker_host:
    description:
      - The Docker or Podman endpoint on the target, as C(ozrepair -H)/C(--host) takes it (C(unix://),
        C(tcp://), C(ssh://)).
      - Default is the target's C($DOCKER_HOST), its docker context, else the local socket.
    type: str
    aliases: [host]
  container:
    description: The container that runs the IdP (C(--container)). Default is discovered.
    type: str
  volume:
    description: The volume that holds the IdP database (C(--volume)). Default is discovered.
    type: str
  unit:
    description:
      - The systemd unit that runs the management server or Dex on a host without containers (C(--unit),
        for example C(netbird-management) or C(dex)).
      - Default is discovered, after the container engine when it has no deployment.
      - Mutually exclusive with I(container), I(volume) and I(db).
    type: str
  db:
    description:
      - Work on this database file directly, without an engine (C(--db); nothing is stopped or started).
      - Mutually exclusive with I(container) and I(volume).
    type: path
  access:
    description:
      - Reach the database through the volume's host path or the engine's archive API (C(--access)).
        C(archive) is for a remote or rootless engine whose volumes this user cannot read.
    type: str
    choices: [auto, host, archive]
    default: auto
  binary:
    description: The ozrepair binary on the target.
    type: path
    default: /usr/local/bin/ozrepair
'''

    DISCOVERY = r'''
options:
  discover:
    description:
      - Ask each OIDC connector's provider for the issuer it publishes (C(--discover); I(action=inspect) or
        C(fix)). With inspect it is a monitoring check - a provider that cannot be asked fails the task.
    type: bool
    default: false
  ca_file:
    description:
      - Trust the CA certificates in this PEM file on the target instead of the built-in roots, for a
        provider behind a private CA (C(--ca-file); only with I(discover), or with I(verify) for
        I(action=secret)).
    type: path
  allow_http:
    description:
      - Allow plain C(http://) to providers on hosts other than loopback (C(--allow-http); only with
        I(discover), or with I(verify) for I(action=secret)).
    type: bool
    default: false
  discover_timeout:
    description: Seconds to wait for each discovery document, 1 to 3600 (C(--discover-timeout); only with I(discover)).
    type: int
    default: 10
'''
