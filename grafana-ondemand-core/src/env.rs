//! Settings from the environment, read one way everywhere.

/// An environment setting, trimmed; unset, empty and blank all read as `None`.
pub fn setting(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
