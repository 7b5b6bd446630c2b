//! SplitMix64: tiny, fast, and the same numbers on every machine, so a seed is a night.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.next_u64() % span,
            None => self.next_u64(),
        }
    }

    /// Whole seconds uniform in `lo..=hi`, as f64 (nights read better without fractions).
    pub fn secs(&mut self, lo: u64, hi: u64) -> f64 {
        self.range(lo, hi) as f64
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.range(0, 99) < percent
    }

    /// One of `items`. The generator only passes constant, non-empty slices; the index is
    /// below `len` by construction.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let i = self.range(0, items.len().saturating_sub(1) as u64) as usize;
        items[i]
    }

    /// One of `items`, by weight.
    pub fn weighted<T: Copy>(&mut self, items: &[(u64, T)]) -> T {
        let total: u64 = items.iter().map(|(w, _)| w).sum();
        let mut roll = self.range(0, total.saturating_sub(1));
        for (w, t) in items {
            if roll < *w {
                return *t;
            }
            roll -= w;
        }
        // Unreachable with a non-empty slice (the rolls above cover `total`); the generator
        // only passes constant, non-empty slices.
        items[items.len() - 1].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = Rng::new(7);
        let b: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(8).next_u64(), a[0]);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let v = r.range(3, 5);
            assert!((3..=5).contains(&v));
        }
        assert_eq!(r.range(4, 4), 4);
        assert_eq!(r.weighted(&[(0, 'a'), (1, 'b')]), 'b');
    }
}
