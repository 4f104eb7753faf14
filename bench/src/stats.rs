//! Order statistics over samples: the median, min/max and nearest-rank percentiles the
//! report prints, plus rounding so the JSON line stays readable.

use std::time::Duration;

/// Samples sorted once, queried many times.
pub struct Sorted(Vec<f64>);

impl Sorted {
    pub fn new(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        Sorted(v)
    }

    /// Milliseconds of each duration.
    pub fn from_durations(d: &[Duration]) -> Self {
        Self::new(d.iter().map(|d| d.as_secs_f64() * 1e3).collect())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn min(&self) -> f64 {
        self.0.first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(f64::NAN)
    }

    /// Middle value (mean of the two middle ones for an even count).
    pub fn median(&self) -> f64 {
        let n = self.0.len();
        match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => self.0[n / 2],
            _ => (self.0[n / 2 - 1] + self.0[n / 2]) / 2.0,
        }
    }

    /// Nearest-rank percentile, `p` in 0..=100.
    pub fn percentile(&self, p: f64) -> f64 {
        let n = self.0.len();
        if n == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.0[rank.clamp(1, n) - 1]
    }
}

/// Rounds to `digits` decimals (NaN stays NaN and becomes JSON `null`).
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_percentiles() {
        let s = Sorted::new(vec![5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(s.median(), 3.0);
        assert_eq!(s.min(), 1.0);
        assert_eq!(s.max(), 5.0);
        assert_eq!(s.percentile(50.0), 3.0);
        assert_eq!(s.percentile(99.0), 5.0);
        assert_eq!(Sorted::new(vec![1.0, 2.0, 3.0, 4.0]).median(), 2.5);
        let hundred = Sorted::new((1..=100).map(f64::from).collect());
        assert_eq!(hundred.percentile(99.0), 99.0);
        assert_eq!(hundred.percentile(50.0), 50.0);
        assert!(Sorted::new(vec![]).median().is_nan());
    }
}
