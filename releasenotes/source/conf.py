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
