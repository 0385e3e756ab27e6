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

# Sphinx configuration for the nova-vm-heartbeat release notes, built by
# the "releasenotes" tier of tools/test.sh and by "tox -e releasenotes".
# The notes themselves are YAML files in releasenotes/notes, read from the
# git history by reno.

extensions = [
    'openstackdocstheme',
    'reno.sphinxext',
]

project = 'nova-vm-heartbeat Release Notes'
copyright = '2026, OpenStack contributors'

master_doc = 'index'
exclude_patterns = ['build']
pygments_style = 'native'

# No bug tracker or public repository is configured yet.
openstackdocs_auto_name = False

html_theme = 'openstackdocs'
