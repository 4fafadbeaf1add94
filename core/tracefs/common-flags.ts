// The bits of an event's common_flags field (kernel/trace/trace.h, TRACE_FLAG_*)
// that say it ran in interrupt context, where the current task's pid names
// whoever was interrupted, not who caused the event: such an event's pid is
// not used to attribute it (tcp-connections, nettop's endpoint tracer).

/** common_flags bits: hardirq (0x08), softirq (0x10), NMI (0x40). */
export const IRQ_FLAGS = 0x08 | 0x10 | 0x40;
