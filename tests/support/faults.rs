//! Faults placed on a call named by what it is, not by a hand-counted call number. The simulator
//! counts `When::Call(n)` among the calls of one function on one server; a test that writes
//! "`listQueueGroups` call 4" silently moves its fault when the run's call order changes. Here a
//! test names the call (`the("getDestination").after(the("manageDestination"))`), looks it up
//! in the call log of a clean run of the same world, and gets the number to use.

use jbr::sim::CallRecord;

/// A call of `function`: the first one, until narrowed.
#[derive(Debug, Clone)]
pub struct Pick {
    function: &'static str,
    params: Vec<(String, String)>,
    nth: usize,
    after: Option<Box<Pick>>,
}

/// The first call of `function`.
pub fn the(function: &'static str) -> Pick {
    Pick {
        function,
        params: Vec::new(),
        nth: 1,
        after: None,
    }
}

impl Pick {
    /// Only calls whose `-D` pairs include `key=value`.
    pub fn with(mut self, key: &str, value: &str) -> Pick {
        self.params.push((key.into(), value.into()));
        self
    }

    /// The `n`-th matching call (1-based) instead of the first.
    pub fn nth(mut self, n: usize) -> Pick {
        assert!(n >= 1, "calls are counted from 1");
        self.nth = n;
        self
    }

    /// Only calls made after `anchor`.
    pub fn after(mut self, anchor: Pick) -> Pick {
        self.after = Some(Box::new(anchor));
        self
    }

    fn matches(&self, c: &CallRecord) -> bool {
        c.function == self.function && self.params.iter().all(|(k, v)| c.params.get(k) == Some(v))
    }

    /// Where this call is in `log` (index into it), or `None` when it never happens.
    fn index_in(&self, log: &[CallRecord]) -> Option<usize> {
        let from = match &self.after {
            Some(anchor) => anchor.index_in(log)? + 1,
            None => 0,
        };
        (from..log.len())
            .filter(|&i| self.matches(&log[i]))
            .nth(self.nth - 1)
    }

    /// This call's number among all calls of its function in `log` (1-based, as `When::Call`
    /// counts). Fails, naming the call, when the log has no such call.
    #[track_caller]
    pub fn number_in(&self, log: &[CallRecord]) -> u64 {
        let Some(i) = self.index_in(log) else {
            let made: Vec<&str> = log.iter().map(|c| c.function.as_str()).collect();
            panic!("no call {self:?} in a clean run; it made: {made:?}");
        };
        log[..=i]
            .iter()
            .filter(|c| c.function == self.function)
            .count() as u64
    }
}
