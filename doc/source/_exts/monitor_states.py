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

"""Render the verdict state machine from its one transition table.

``.. monitor-state-diagram::`` draws ``nova_vm_heartbeat.monitor.machine.
TRANSITIONS`` with graphviz; ``.. monitor-transition-table::`` lists it as
a table. Both read the table at build time, so the documentation cannot
drift from the code.
"""

from __future__ import annotations

import collections
import typing

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.ext import graphviz

from nova_vm_heartbeat.monitor import machine as st

#: States whose entry reports a verdict: drawn with a double border.
_VERDICT_STATES = {st.MonitorState.FAILED, st.MonitorState.UNHEALTHY}

#: Triggers that apply from (almost) every state: drawn dashed and grey,
#: so the judging path stands out.
_GLOBAL_TRIGGERS = {st.Trigger.CRASH.value, st.Trigger.HALT.value,
                    st.Trigger.SUSPEND.value, st.Trigger.BOOT.value}


def _edges() -> typing.Dict[typing.Tuple[str, str], typing.List[str]]:
    edges: typing.Dict[typing.Tuple[str, str], typing.List[str]] = (
        collections.defaultdict(list))
    for source, row in st.TRANSITIONS.items():
        for trigger, target in row.items():
            if target is not source:
                edges[source.value, target.value].append(trigger.value)
    return edges


def dot_source() -> str:
    lines = ["digraph monitor {", "  rankdir=LR;",
             '  node [shape=box, style=rounded, fontname="sans"];',
             '  edge [fontname="sans", fontsize=9];']
    for state in st.MonitorState:
        extra = ", peripheries=2" if state in _VERDICT_STATES else ""
        lines.append('  %s [label="%s"%s];'
                     % (state.value, state.name, extra))
    for (source, target), triggers in sorted(_edges().items()):
        style = (', style=dashed, color="gray55", fontcolor="gray40"'
                 if set(triggers) <= _GLOBAL_TRIGGERS else "")
        lines.append('  %s -> %s [label="%s"%s];'
                     % (source, target, "\\n".join(sorted(triggers)), style))
    lines.append("}")
    return "\n".join(lines)


class StateDiagram(Directive):
    """The state diagram, as a graphviz node."""

    def run(self) -> typing.List[nodes.Node]:
        node = graphviz.graphviz()
        node["code"] = dot_source()
        node["options"] = {"docname": self.state.document.settings.env
                           .docname}
        node["alt"] = "verdict state machine"
        return [node]


class TransitionTable(Directive):
    """Every state and trigger, as a list table."""

    def run(self) -> typing.List[nodes.Node]:
        triggers = list(st.Trigger)
        rows = [".. list-table::", "   :header-rows: 1", "",
                "   * - state"] + ["     - %s" % t.value for t in triggers]
        for state, row in st.TRANSITIONS.items():
            rows.append("   * - **%s**" % state.value)
            rows += ["     - %s" % ("·" if row[t] is state else row[t].value)
                     for t in triggers]
        container = nodes.container()
        self.state.nested_parse(StringList(rows), self.content_offset,
                                container)
        return container.children


def setup(app: typing.Any) -> typing.Dict[str, typing.Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_directive("monitor-state-diagram", StateDiagram)
    app.add_directive("monitor-transition-table", TransitionTable)
    return {"parallel_read_safe": True}
