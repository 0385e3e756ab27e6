"""The Masakari bridge: heartbeat verdicts in, Masakari VM notifications out.

Masakari reads only its REST API, never the message bus, and recovers a
VM only for the notification masakari-monitors' introspective monitor
sends (event ``QEMU_GUEST_AGENT_ERROR``, ``vir_domain_event``
``STOPPED_FAILED``). The bridge listens for our versioned notifications
in a named pool, turns the verdicts the operator selected into that
notification, and acknowledges a message only once Masakari has taken it.

``request`` decides what is sent, ``client`` talks to Masakari through
openstacksdk, ``gate`` spaces out the attempts while Masakari is away,
``delivery`` handles one message, ``listener`` is the oslo.messaging side
and ``bridge`` puts them together for ``nova-vm-heartbeat-masakari-bridge``.
"""
