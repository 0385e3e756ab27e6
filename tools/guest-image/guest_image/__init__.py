"""The guest image builder's parts; ``tools/guest-image/build.py`` runs it."""
