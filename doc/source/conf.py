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

# Sphinx configuration for the nova-vm-heartbeat documentation.
# Built by the "docs" tier of tools/test.sh and by "tox -e docs", with
# warnings treated as errors (-W).

import os
import sys

# Sphinx extensions of this project live in doc/source/_exts.
sys.path.insert(0, os.path.abspath('_exts'))

# -- General configuration ---------------------------------------------------

extensions = [
    'sphinx.ext.autodoc',
    'openstackdocstheme',
    'reno.sphinxext',
    # Draws the monitor's state diagram with graphviz ("dot", from the
    # graphviz package in bindep.txt).
    'monitor_states',
    # The option reference (show-options) and the sample configuration
    # file, both generated from the oslo.config.opts entry points.
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
]

project = 'nova-vm-heartbeat'
copyright = '2026, OpenStack contributors'

master_doc = 'index'
exclude_patterns = ['build']
pygments_style = 'native'

# Section index pages list their pages with a glob, so that a page added
# to a section shows up without editing the index.

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'

# -- oslo_config.sphinxconfiggen ----------------------------------------------

# Written at each build to _static/nova-vm-heartbeat.conf.sample (ignored
# by git) and shown by configuration/sample.rst.
config_generator_config_file = (
    '../../etc/nova-vm-heartbeat/nova-vm-heartbeat-config-generator.conf')
sample_config_basename = '_static/nova-vm-heartbeat'

# -- openstackdocstheme ------------------------------------------------------

# No bug tracker or public repository is configured yet, so the theme shows
# no "report a bug" or "edit this page" links.
openstackdocs_auto_name = False

# -- Options for HTML output -------------------------------------------------

html_theme = 'openstackdocs'
