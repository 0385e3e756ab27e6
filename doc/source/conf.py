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

# -- openstackdocstheme ------------------------------------------------------

# No bug tracker or public repository is configured yet, so the theme shows
# no "report a bug" or "edit this page" links.
openstackdocs_auto_name = False

# -- Options for HTML output -------------------------------------------------

html_theme = 'openstackdocs'
