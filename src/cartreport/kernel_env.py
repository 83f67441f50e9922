"""The environment a report kernel is started with: how ``cartreport run`` tells its kernel where to find things.

``cartreport.render.kernel`` sets these variables when it starts a kernel; code running in the kernel reads them.
A notebook opened in JupyterLab has neither, and then computes its analysis and writes its figures itself.

>>> SHARED_DIR_ENV, PRINT_QUEUE_ENV
('CARTREPORT_SHARED_DIR', 'CARTREPORT_PRINT_QUEUE')
"""

from __future__ import annotations

__all__ = ["PRINT_QUEUE_ENV", "SHARED_DIR_ENV"]

#: the kernel's private folder, where the report process hands over its analysis (:mod:`cartreport.render.handoff`)
SHARED_DIR_ENV = "CARTREPORT_SHARED_DIR"
#: the folder where the kernel queues figures for the report process to write for print
#: (:mod:`cartreport.report.print_queue`, :mod:`cartreport.render.print_writer`)
PRINT_QUEUE_ENV = "CARTREPORT_PRINT_QUEUE"
