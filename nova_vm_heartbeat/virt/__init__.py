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

"""The Nova driver extension: the only package that imports nova.

``HeartbeatLibvirtDriver`` (:mod:`.driver`) is a ``LibvirtDriver`` that
adds the heartbeat channel to the guest XML of flavors with
``hw:heartbeat=true``, runs the monitor inside nova-compute, and tells it
what Nova is doing to each instance. Nova loads it through the one-file
shim ``nova/virt/heartbeat_libvirt.py`` shipped in this package's wheel.

The extra spec validators (:mod:`.validators`) are loaded by nova-api
through the ``nova.api.extra_spec_validators`` entry point and import
nothing but Nova's validator base, so importing this package must stay
free of side effects and heavy imports.
"""
