"""Tempest plugin of nova-vm-heartbeat: scenario tests on a real cloud.

A package of its own, beside ``nova_vm_heartbeat``, so that tempest never
imports the project's Nova-dependent code and pytest never collects it.
"""
