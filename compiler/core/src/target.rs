//! Target limits: the names and values Kubernetes and Argo accept.
//!
//! Takes strings; says whether Kubernetes would accept them as a DNS-1123 label or subdomain, a
//! label key or value, an environment variable name or a secret key, and how a pipe identifier
//! becomes a Kubernetes name. The checker calls these where it checks the value, so problems are
//! reported at compile time instead of by the cluster (the checker raises the codes).

/// Longest DNS-1123 label (pod, container and template names, label names).
pub const MAX_LABEL: usize = 63;
/// Longest pipeline name: a CronWorkflow's name must leave room for Argo's suffixes.
pub const MAX_PIPELINE_NAME: usize = 52;

/// The Kubernetes form of a pipe identifier: lowercase, `_` as `-`, no leading or trailing `-`.
pub fn k8s_name(ident: &str) -> String {
    let s: String = ident.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
    s.trim_matches('-').to_string()
}

fn alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > MAX_LABEL {
        return Err(format!("must be 1 to {MAX_LABEL} characters long"));
    }
    let ok = s.starts_with(alnum_lower) && s.ends_with(alnum_lower) && s.chars().all(|c| alnum_lower(c) || c == '-');
    if ok {
        Ok(())
    } else {
        Err("must be lowercase letters, digits and `-`, starting and ending with a letter or digit".into())
    }
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err("must be at most 253 characters long".into());
    }
    s.split('.').try_for_each(dns1123_label)
}

fn name_part(s: &str) -> bool {
    let edge = |c: char| c.is_ascii_alphanumeric();
    s.len() <= MAX_LABEL
        && s.starts_with(edge)
        && s.ends_with(edge)
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain, the name at most 63 characters.
pub fn label_key(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        dns1123_subdomain(p).map_err(|e| format!("its prefix `{p}` {e}"))?;
    }
    if name_part(name) {
        Ok(())
    } else {
        Err("its name must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
            .into())
    }
}

/// A label value: empty, or like a label key's name.
pub fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || name_part(s) {
        Ok(())
    } else {
        Err("must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit".into())
    }
}

/// An environment variable name as Kubernetes accepts it.
pub fn env_name(s: &str) -> Result<(), String> {
    let first = |c: char| c.is_ascii_alphabetic() || "-._".contains(c);
    if s.starts_with(first) && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        Ok(())
    } else {
        Err("must be letters, digits, `_`, `-` or `.`, not starting with a digit".into())
    }
}

/// A key inside a Kubernetes secret.
pub fn secret_key(s: &str) -> Result<(), String> {
    if !s.is_empty() && s.len() <= 253 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        Ok(())
    } else {
        Err("must be 1 to 253 letters, digits, `-`, `_` or `.`".into())
    }
}
