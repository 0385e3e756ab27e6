# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Introspective VM heartbeat and health-check monitoring for OpenStack Nova.

The package is shared by two very different processes:

* the host side, which runs inside nova-compute (Python 3.10 or later, with
  Nova, libvirt and oslo.* available), and
* the reference guest agent, which runs on whatever ``python3`` a guest
  image has (3.8 or later) with nothing but the standard library.

This module is imported by both, so it must stay free of side effects and
of anything outside the standard library: no pbr, no oslo, no logging
set-up. The host-side version string lives in
:mod:`nova_vm_heartbeat.version`.
"""
