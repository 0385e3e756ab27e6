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
