//! At most ten `Update` entries in managedFields (fieldmanager's `capmanagers.go`): after an
//! update, the oldest `Update` entries are merged, per API version, into one
//! `ancient-changes` entry until no more than ten remain. Apply entries are never merged.

use std::collections::HashMap;

use serde_json::json;

use super::{Entry, Managed, Operation};

/// kube-apiserver's `DefaultMaxUpdateManagers`.
pub(crate) const MAX_UPDATE_MANAGERS: usize = 10;
const BUCKET: &str = "ancient-changes";

/// fieldmanager's `BuildManagerIdentifier` of an Update entry (the tie-break of equal times).
fn identifier(entry: &Entry) -> String {
    let mut id = format!(
        r#"{{"manager":{},"operation":"Update","apiVersion":{}"#,
        json!(entry.manager),
        json!(entry.api_version)
    );
    if !entry.subresource.is_empty() {
        id.push_str(&format!(r#","subresource":{}"#, json!(entry.subresource)));
    }
    id.push('}');
    id
}

fn is_bucket(entry: &Entry, version: &str) -> bool {
    entry.manager == BUCKET
        && entry.operation == Operation::Update
        && entry.api_version == version
        && entry.subresource.is_empty()
}

impl Managed {
    /// Merges the oldest `Update` entries into `ancient-changes` ones until at most `max`
    /// remain, exactly as `capUpdateManagers` does: oldest first (by time, then identifier),
    /// the first entry of each API version is kept until a second one of that version comes,
    /// which then makes (or joins) the version's bucket, and the bucket takes the merged
    /// entry's time.
    pub(crate) fn cap_updates(&mut self, max: usize) {
        let counted = |e: &&Entry| e.operation == Operation::Update && !e.fields.is_empty();
        if self.entries.iter().filter(counted).count() <= max {
            return;
        }
        // Entries without fields are dropped (encoding would drop them anyway).
        self.entries.retain(|entry| !entry.fields.is_empty());
        let mut updaters: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].operation == Operation::Update)
            .collect();
        let keys: Vec<(String, String)> = self
            .entries
            .iter()
            .map(|e| (e.time.clone().unwrap_or_default(), identifier(e)))
            .collect();
        updaters.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        let mut first_of_version: HashMap<String, usize> = HashMap::new();
        let mut merged = vec![false; self.entries.len()];
        let mut remaining = updaters.len();
        for &i in &updaters {
            if remaining <= max {
                break;
            }
            let version = self.entries[i].api_version.clone();
            let Some(&first) = first_of_version.get(&version) else {
                first_of_version.insert(version, i);
                continue;
            };
            let existing = (0..self.entries.len())
                .find(|&b| !merged[b] && is_bucket(&self.entries[b], &version));
            let bucket = match existing {
                Some(bucket) => bucket,
                None => {
                    let entry = &mut self.entries[first];
                    entry.manager = BUCKET.to_owned();
                    entry.subresource.clear();
                    first
                }
            };
            if bucket == i {
                continue;
            }
            let fields = self.entries[i].fields.clone();
            let time = self.entries[i].time.clone();
            self.entries[bucket].fields.union(&fields);
            self.entries[bucket].time = time;
            merged[i] = true;
            remaining -= 1;
        }
        let mut index = 0;
        self.entries.retain(|_| {
            index += 1;
            !merged[index - 1]
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::Set;

    fn entry(manager: &str, version: &str, second: u32, field: &str) -> Entry {
        let mut fields = Set::new();
        fields.insert(&[crate::apply::Element::Field(field.to_owned())]);
        Entry {
            manager: manager.to_owned(),
            operation: Operation::Update,
            api_version: version.to_owned(),
            time: Some(format!("2025-01-01T00:00:{second:02}Z")),
            subresource: String::new(),
            fields,
        }
    }

    #[test]
    fn the_oldest_updates_merge_into_ancient_changes_per_version() {
        let mut managed = Managed::default();
        for i in 0..12 {
            managed.entries.push(entry(&format!("m{i:02}"), "v1", i, &format!("f{i}")));
        }
        let mut applier = entry("applier", "v1", 0, "a");
        applier.operation = Operation::Apply;
        managed.entries.push(applier.clone());
        managed.cap_updates(MAX_UPDATE_MANAGERS);
        let managers: Vec<&str> = managed.entries.iter().map(|e| e.manager.as_str()).collect();
        // m00 becomes the bucket when m01 merges, then m02 joins it: 12 updaters → 10.
        assert_eq!(
            managers,
            [
                "ancient-changes",
                "m03",
                "m04",
                "m05",
                "m06",
                "m07",
                "m08",
                "m09",
                "m10",
                "m11",
                "applier"
            ]
        );
        let bucket = &managed.entries[0];
        assert_eq!(bucket.time.as_deref(), Some("2025-01-01T00:00:02Z"));
        let mut expected = Set::new();
        for f in ["f0", "f1", "f2"] {
            expected.insert(&[crate::apply::Element::Field(f.to_owned())]);
        }
        assert_eq!(bucket.fields, expected);

        // Versions have their own buckets; the first of a version waits for a second.
        let mut managed = Managed::default();
        managed.entries.push(entry("old-v1beta1", "apps/v1beta1", 0, "x"));
        for i in 1..11 {
            managed.entries.push(entry(&format!("m{i:02}"), "apps/v1", i, &format!("f{i}")));
        }
        managed.cap_updates(MAX_UPDATE_MANAGERS);
        let managers: Vec<&str> = managed.entries.iter().map(|e| e.manager.as_str()).collect();
        assert_eq!(managers[0], "old-v1beta1");
        assert_eq!(managers[1], "ancient-changes");
        assert_eq!(managed.entries.len(), 10);

        // Under the cap nothing changes.
        let mut small = Managed::default();
        small.entries.push(entry("a", "v1", 1, "x"));
        let before = small.clone();
        small.cap_updates(MAX_UPDATE_MANAGERS);
        assert_eq!(small, before);
    }
}
