//! Names Argo and Kubernetes accept: DNS-1123 labels, length-limited with a stable hash suffix.
//!
//! Takes pipe identifiers and the names built from them; gives names that are valid, equal for
//! equal inputs across runs and machines, and different for different inputs even when cut.

use pipe_core::target::{MAX_LABEL, k8s_name};

/// `name` as a DNS-1123 label of at most `max` characters: unchanged when it fits, otherwise
/// cut and given `-<8 hex of blake3(name)>`, so two long names that share a prefix stay apart.
pub fn fit(name: &str, max: usize) -> String {
    let clean = k8s_name(name);
    if clean.len() <= max && !clean.is_empty() {
        return clean;
    }
    let hash = blake3::hash(name.as_bytes()).to_hex();
    let keep = max.saturating_sub(9);
    let head = clean[..keep.min(clean.len())].trim_end_matches('-');
    if head.is_empty() {
        format!("p-{}", &hash[..max.saturating_sub(2).min(8)])
    } else {
        format!("{head}-{}", &hash[..8])
    }
}

/// A name that is one DNS label: `fit(name, 63)`.
pub fn label(name: &str) -> String {
    fit(name, MAX_LABEL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_core::target::dns1123_label;

    #[test]
    fn short_names_are_kept_and_long_ones_cut_with_a_stable_suffix() {
        assert_eq!(label("plan-train"), "plan-train");
        assert_eq!(label("Train_Model"), "train-model");
        let long = format!("commit-{}", "a".repeat(70));
        let cut = label(&long);
        assert_eq!(cut.len(), 63);
        assert_eq!(cut, label(&long), "stable");
        assert_ne!(cut, label(&format!("{long}b")), "distinct names stay distinct");
        dns1123_label(&cut).expect("a label");
        let dashes = format!("run-{}-{}", "b".repeat(53), "c".repeat(10));
        dns1123_label(&label(&dashes)).expect("a label");
        assert!(fit("x", 5) == "x");
        dns1123_label(&fit("____", 10)).expect("a label");
    }
}
