//! RFC 3261 §16.7 step 6: which of the final responses collected from the branches of one
//! transaction is forwarded upstream.
//!
//! - any 6xx beats everything (a 6xx also cancels the other branches, §16.7 step 5);
//! - otherwise the lowest class wins (3xx over 4xx over 5xx);
//! - inside 4xx, responses that let the caller resubmit (401, 407, 415, 420, 484) are
//!   preferred; otherwise the first one received stays;
//! - a chosen 503 is forwarded as 500 (the caller must not take our upstream's overload as
//!   ours to retry elsewhere).

/// How good a final response is as the transaction's answer: lower is better.
pub fn rank(code: u16) -> u32 {
    let class = u32::from(code / 100);
    match class {
        6 => 0,
        4 if matches!(code, 401 | 407 | 415 | 420 | 484) => 4 * 2,
        c => c * 2 + 1,
    }
}

/// True when `candidate` should replace `current` as the best final response.
pub fn is_better(candidate: u16, current: Option<u16>) -> bool {
    match current {
        None => true,
        Some(cur) => rank(candidate) < rank(cur),
    }
}

/// The status code forwarded for a chosen best response (RFC 3261 §16.7 step 6: 503 → 500).
pub fn forwarded_code(code: u16) -> u16 {
    if code == 503 {
        500
    } else {
        code
    }
}

/// True for the responses whose challenges are merged from all branches (§16.7 step 7).
pub fn is_challenge(code: u16) -> bool {
    code == 401 || code == 407
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(codes: &[u16]) -> u16 {
        let mut best = None;
        for &c in codes {
            if is_better(c, best) {
                best = Some(c);
            }
        }
        best.map(forwarded_code).unwrap_or(0)
    }

    #[test]
    fn sixth_class_wins_then_lowest_class() {
        assert_eq!(pick(&[486, 302, 603, 404]), 603);
        assert_eq!(pick(&[486, 302, 404]), 302);
        assert_eq!(pick(&[500, 486]), 486);
        assert_eq!(pick(&[486, 404]), 486, "first of a class stays");
        assert_eq!(pick(&[486, 407, 404]), 407, "resubmittable 4xx preferred");
        assert_eq!(pick(&[503]), 500, "503 is forwarded as 500");
        assert_eq!(pick(&[503, 408]), 408);
    }
}
