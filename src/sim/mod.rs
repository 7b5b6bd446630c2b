//! A simulated JetBackup 5 server: jobs, destinations, queue groups, logs, scheduler, faults, timeline.
