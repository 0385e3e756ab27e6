"""Small helpers shared by the host side and the guest agent.

Standard library only, like :mod:`nova_vm_heartbeat.protocol`, so the
guest agent (which imports only the standard library and ``protocol``)
may use them too. Nothing here is about the wire protocol: it is what
both sides of it need and would otherwise write twice.
"""
