//! Server-side apply and `metadata.managedFields`, as kube-apiserver v1.33 computes them with
//! structured-merge-diff v4 (`sigs.k8s.io/structured-merge-diff/v4/merge/update.go` and
//! `k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager`).
//!
//! - [`update`]: after a create, update or non-apply patch, the writer's `Update` entry gains
//!   the fields it added or changed, and every other manager loses them.
//! - [`apply`]: merges an applied configuration into the live object; fields the same applier
//!   set last time and omits now are removed unless another manager owns them; a change to a
//!   field another manager owns is a conflict unless forced, which moves the ownership.
//!
//! Pure functions over JSON values; the caller passes the time and does the IO.

mod cap;
mod fieldpath;
mod schema;
mod typed;
mod undeclared;
mod zero;

use serde_json::{Map, Value, json};

use crate::json::equal_opt;

pub use fieldpath::{Element, Set, display};
use schema::Ty;
pub use schema::register_custom;
use typed::Comparison;
pub use undeclared::undeclared;

/// Fields no manager owns: identity and server-managed metadata
/// (fieldmanager's `stripMeta`).
const IGNORED: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "uid"],
    &["metadata", "clusterName"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "resourceVersion"],
];

/// What went wrong: conflicts (a 409) or a configuration the schema cannot read (a 400).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    #[error("{0}")]
    Invalid(String),
}

/// One field another manager owns and an apply would change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The manager as Kubernetes prints it: `"kubectl-client-side-apply" using apps/v1`.
    pub manager: String,
    /// The field as Kubernetes prints it: `.spec.replicas`.
    pub field: String,
}

fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [one] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.field
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for manager in managers {
        lines.push(format!("conflicts with {manager}:"));
        for conflict in conflicts.iter().filter(|c| c.manager == manager) {
            lines.push(format!("- {}", conflict.field));
        }
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

/// `Apply` or `Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub fields: Set,
}

impl Entry {
    /// Entries are one per manager, operation and subresource.
    fn same_owner(&self, manager: &str, operation: Operation, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How conflict messages name the manager (fieldmanager's `printManager`).
    fn printed(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn to_json(&self) -> Value {
        entry_json(
            &self.manager,
            self.operation,
            &self.api_version,
            self.time.as_deref(),
            self.fields.to_fields_v1(),
            &self.subresource,
        )
    }

    fn from_json(value: &Value) -> Result<Entry, String> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default();
        let operation = match text("operation") {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            other => return Err(format!("invalid operation {other:?}")),
        };
        let fields = match (text("fieldsType"), value.get("fieldsV1")) {
            ("FieldsV1", Some(fields)) => Set::from_fields_v1(fields)?,
            ("FieldsV1" | "", None) => Set::new(),
            (other, _) => return Err(format!("unsupported fieldsType {other:?}")),
        };
        Ok(Entry {
            manager: text("manager").to_owned(),
            operation,
            api_version: text("apiVersion").to_owned(),
            time: value.get("time").and_then(Value::as_str).map(str::to_owned),
            subresource: text("subresource").to_owned(),
            fields,
        })
    }
}

/// One `managedFields` entry as JSON, its keys in Kubernetes' order.
fn entry_json(
    manager: &str,
    operation: Operation,
    api_version: &str,
    time: Option<&str>,
    fields_v1: Value,
    subresource: &str,
) -> Value {
    let mut entry = Map::new();
    entry.insert("manager".into(), json!(manager));
    entry.insert("operation".into(), json!(operation.as_str()));
    entry.insert("apiVersion".into(), json!(api_version));
    if let Some(time) = time {
        entry.insert("time".into(), json!(time));
    }
    entry.insert("fieldsType".into(), json!("FieldsV1"));
    entry.insert("fieldsV1".into(), fields_v1);
    if !subresource.is_empty() {
        entry.insert("subresource".into(), json!(subresource));
    }
    Value::Object(entry)
}

/// The `managedFields` of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    pub entries: Vec<Entry>,
}

impl Managed {
    /// Reads `metadata.managedFields`; absent is empty.
    pub fn decode(object: &Value) -> Result<Managed, String> {
        let Some(list) = object.pointer("/metadata/managedFields").filter(|v| !v.is_null()) else {
            return Ok(Managed::default());
        };
        let list = list.as_array().ok_or("managedFields must be a list")?;
        let entries = list.iter().map(Entry::from_json).collect::<Result<_, _>>()?;
        Ok(Managed { entries })
    }

    /// Writes `metadata.managedFields`, sorted as Kubernetes sorts them (operation, time,
    /// manager, apiVersion, subresource); no entries, no field.
    pub fn encode(mut self, object: &mut Value) {
        self.entries.retain(|entry| !entry.fields.is_empty());
        self.entries.sort_by(|a, b| {
            (a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
        });
        let Some(object) = object.as_object_mut() else { return };
        if self.entries.is_empty() {
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
            return;
        }
        let metadata = object.entry("metadata").or_insert_with(|| json!({}));
        if let Some(metadata) = metadata.as_object_mut() {
            let list = self.entries.iter().map(Entry::to_json).collect();
            metadata.insert("managedFields".into(), Value::Array(list));
        }
    }

    fn position(&self, manager: &str, operation: Operation, subresource: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.same_owner(manager, operation, subresource))
    }
}

/// Who writes what: the request's side of a write.
#[derive(Clone, Copy, Debug)]
pub struct Writer<'a> {
    /// The kind's group, version and kind (the schema) and `group/version` for entries.
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub manager: &'a str,
    /// `status`, `scale`, or empty for the main resource.
    pub subresource: &'a str,
    /// Top-level fields the endpoint does not write (`status` through the main resource of a
    /// kind with a status subresource, `spec` through `status`): nobody owns them by it.
    pub reset: &'a [&'a str],
    /// Now, as the entries' `time`.
    pub now: &'a str,
}

impl Writer<'_> {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn root(&self) -> Ty {
        schema::root(self.group, self.version, self.kind)
    }

    /// The kind's zero value, what a create is compared with.
    fn zero(&self) -> &'static Value {
        zero::of(self.group, self.kind)
    }

    /// Drops the fields nobody owns from a set.
    fn strip(&self, set: &mut Set) {
        set.subtract(ignored());
        for field in self.reset {
            set.remove_field(field);
        }
    }

    fn compare(&self, lhs: Option<&Value>, rhs: &Value) -> Comparison {
        let mut comparison = Comparison::default();
        typed::compare(lhs, Some(rhs), self.root(), &mut Vec::new(), &mut comparison);
        self.strip(&mut comparison.added);
        self.strip(&mut comparison.modified);
        self.strip(&mut comparison.removed);
        comparison
    }
}

/// [`IGNORED`] as a set.
fn ignored() -> &'static Set {
    static IGNORED_SET: std::sync::OnceLock<Set> = std::sync::OnceLock::new();
    IGNORED_SET.get_or_init(|| {
        let mut ignored = Set::new();
        for path in IGNORED {
            let path: Vec<Element> = path.iter().map(|p| Element::Field((*p).into())).collect();
            ignored.insert(&path);
        }
        ignored
    })
}

/// An object without `metadata.managedFields`.
fn without_managed(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    copy
}

/// Kubernetes' `IgnoreManagedFieldsTimestampsTransformer`: a write that changes nothing but
/// the times of managedFields entries keeps the old times, so that it stays a no-op (a
/// re-apply of an unchanged manifest does not bump the resourceVersion).
pub fn keep_times_of_noop(live: &Value, new: &mut Value) {
    if !same_but_managed(live, new) {
        return;
    }
    let timeless = |object: &Value| {
        Managed::decode(object).ok().map(|managed| {
            let mut entries: Vec<Entry> =
                managed.entries.into_iter().map(|e| Entry { time: None, ..e }).collect();
            entries.sort_by(|a, b| {
                (&a.manager, a.operation, &a.subresource).cmp(&(
                    &b.manager,
                    b.operation,
                    &b.subresource,
                ))
            });
            entries
        })
    };
    let old = live.pointer("/metadata/managedFields").cloned();
    if timeless(live).is_some_and(|entries| Some(entries) == timeless(new))
        && let (Some(old), Some(metadata)) =
            (old, new.get_mut("metadata").and_then(Value::as_object_mut))
    {
        metadata.insert("managedFields".into(), old);
    }
}

/// Whether two objects are equal apart from managedFields and resourceVersion (no copies:
/// this runs on every write).
fn same_but_managed(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    let skipped = |key: &str| key == "managedFields" || key == "resourceVersion";
    let metadata_equal = |x: Option<&Value>, y: Option<&Value>| {
        let empty = Map::new();
        let x = x.and_then(Value::as_object).unwrap_or(&empty);
        let y = y.and_then(Value::as_object).unwrap_or(&empty);
        x.iter().filter(|(k, _)| !skipped(k)).all(|(k, v)| equal_opt(y.get(k), Some(v)))
            && y.iter().filter(|(k, _)| !skipped(k)).all(|(k, _)| x.contains_key(k))
    };
    metadata_equal(a.get("metadata"), b.get("metadata"))
        && a.iter().filter(|(k, _)| *k != "metadata").all(|(k, v)| equal_opt(b.get(k), Some(v)))
        && b.iter().filter(|(k, _)| *k != "metadata").all(|(k, _)| a.contains_key(k))
}

/// `managedFields: [{}]` (entries without manager or fields) strips them all, as in
/// Kubernetes; an empty list or none keeps the live ones.
fn strips_all(object: &Value) -> bool {
    object.pointer("/metadata/managedFields").and_then(Value::as_array).is_some_and(|list| {
        !list.is_empty() && list.iter().all(|e| e.as_object().is_some_and(Map::is_empty))
    })
}

/// Records a non-apply write of `new` over `live` (`None` on create) in `new`'s managedFields.
pub fn update(writer: &Writer<'_>, live: Option<&Value>, new: &mut Value) {
    update_with(writer, live, new, true);
}

/// [`update`]; `shortcut` lets it skip decoding managedFields when the writer's ownership does
/// not change ([`ownership_unchanged`]; tests compare the two ways).
fn update_with(writer: &Writer<'_>, live: Option<&Value>, new: &mut Value, shortcut: bool) {
    if strips_all(new) {
        if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.remove("managedFields");
        }
        return;
    }
    let live_managed = || live.map(Managed::decode).and_then(Result::ok).unwrap_or_default();
    let supplied = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    if live.is_none() && !supplied {
        record_create(writer, new);
        return;
    }
    // managedFields is an atomic list whose path is ignored: no need to compare copies. A
    // create is compared with the kind's zero value, as kube-apiserver does (`zero.rs`); what
    // the zero value has and the object lacks was never there to remove.
    let Comparison { added: mut changed, modified, mut removed } =
        writer.compare(Some(live.unwrap_or_else(|| writer.zero())), new);
    if live.is_none() {
        removed = Set::new();
    }
    changed.union(&modified);
    if shortcut
        && let Some(live) = live
        && ownership_unchanged(writer, live, new, supplied, &changed, &removed)
    {
        return;
    }
    let mut managed = if supplied && writer.subresource.is_empty() {
        Managed::decode(new).unwrap_or_else(|_| live_managed())
    } else {
        live_managed()
    };
    for entry in &mut managed.entries {
        if !entry.same_owner(writer.manager, Operation::Update, writer.subresource) {
            entry.fields.subtract(&changed);
            entry.fields.subtract(&removed);
        }
    }
    let position = managed.position(writer.manager, Operation::Update, writer.subresource);
    let index = position.unwrap_or_else(|| {
        managed.entries.push(Entry {
            manager: writer.manager.to_owned(),
            operation: Operation::Update,
            api_version: writer.api_version(),
            time: None,
            subresource: writer.subresource.to_owned(),
            fields: Set::new(),
        });
        managed.entries.len() - 1
    });
    let entry = &mut managed.entries[index];
    let mut fields = entry.fields.clone();
    fields.union(&changed);
    fields.subtract(&removed);
    if fields != entry.fields || entry.time.is_none() {
        entry.time = Some(writer.now.to_owned());
    }
    entry.fields = fields;
    entry.api_version = writer.api_version();
    managed.cap_updates(cap::MAX_UPDATE_MANAGERS);
    managed.encode(new);
}

/// The common update, decided without decoding managedFields: the writer already owns every
/// field it changed (its `Update` entry, of this API version, lists them), it removed none
/// that an entry lists, and no other entry lists a field it changed. Then [`update`]'s general
/// path would re-encode the live entries unchanged (times too: the writer's fields are the
/// same), so `new` keeps the live managedFields as they are. That holds only when `new`
/// carries the live list itself or none (what a client sends back after a GET, or a patch
/// leaves): the live list is the server's own encoding, so its keys are canonical and a
/// lookup by encoded path finds every member. Returns false, changing nothing, otherwise.
fn ownership_unchanged(
    writer: &Writer<'_>,
    live: &Value,
    new: &mut Value,
    supplied: bool,
    changed: &Set,
    removed: &Set,
) -> bool {
    let Some(live_list) = live.pointer("/metadata/managedFields").and_then(Value::as_array) else {
        return false;
    };
    if supplied
        && !equal_opt(
            new.pointer("/metadata/managedFields"),
            live.pointer("/metadata/managedFields"),
        )
    {
        return false;
    }
    // A list over the cap (stored before it, or sent so) is capped the general way.
    let updates = live_list.iter().filter(|e| e["operation"] == Operation::Update.as_str());
    if updates.count() > cap::MAX_UPDATE_MANAGERS {
        return false;
    }
    let (changed, removed) = (changed.paths(), removed.paths());
    let mut own = None;
    for entry in live_list {
        let text = |key: &str| entry.get(key).and_then(Value::as_str);
        let Some(fields) = entry.get("fieldsV1").filter(|_| text("fieldsType") == Some("FieldsV1"))
        else {
            return false;
        };
        let is_mine = text("manager") == Some(writer.manager)
            && text("operation") == Some(Operation::Update.as_str())
            && text("subresource").unwrap_or_default() == writer.subresource;
        if is_mine {
            if own.is_some()
                || text("time").is_none()
                || text("apiVersion") != Some(writer.api_version().as_str())
            {
                return false;
            }
            own = Some(fields);
        } else if changed.iter().chain(&removed).any(|path| fieldpath::lists(fields, path)) {
            return false;
        }
    }
    let Some(own) = own else { return false };
    if !changed.iter().all(|path| fieldpath::lists(own, path))
        || removed.iter().any(|path| fieldpath::lists(own, path))
    {
        return false;
    }
    if !supplied && let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("managedFields".into(), Value::Array(live_list.clone()));
    }
    true
}

/// [`update`] of a create without managedFields of its own: the writer's `Update` entry owns
/// every field, written straight as `FieldsV1`.
fn record_create(writer: &Writer<'_>, new: &mut Value) {
    match created_managed_fields(writer, new) {
        Some(managed) => managed.put_in(new),
        None => {
            if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("managedFields");
            }
        }
    }
}

/// A create's `managedFields` as JSON text (`[{…}]`): what [`update`] records for a create
/// that carries no entries of its own, not put in the object. Nothing reads a create's
/// managedFields before it is stored, so the API server writes this text into the stored
/// bytes as it is (as kube-apiserver keeps `FieldsV1` as raw bytes) instead of building,
/// serializing and dropping a tree of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedText(String);

impl ManagedText {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The list as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or_else(|_| Value::Array(Vec::new()))
    }

    /// Puts the list in `object`'s metadata, for the rare write that needs it in the object
    /// (a dry run's answer, an event converted before it is stored).
    pub fn put_in(&self, object: &mut Value) {
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("managedFields".into(), self.to_value());
        }
    }
}

/// Records a create of `new` by `writer` as [`update`] does with no live object, but returns
/// the writer's entry as [`ManagedText`] instead of putting it in `new` (whose managedFields
/// go). `None` when `new` is complete as it is: it carries entries of its own (they are
/// recorded in it, as [`update`] does) or the writer owns nothing.
pub fn update_created(writer: &Writer<'_>, new: &mut Value) -> Option<ManagedText> {
    let supplied = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|list| !list.is_empty());
    if supplied {
        update(writer, None, new);
        return None;
    }
    let managed = created_managed_fields(writer, new);
    if let Some(metadata) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    managed
}

/// The writer's only entry for a create with no managedFields of its own, as text.
fn created_managed_fields(writer: &Writer<'_>, new: &Value) -> Option<ManagedText> {
    let fields =
        typed::added_fields_v1(new, writer.root(), writer.zero(), ignored(), writer.reset)?;
    let mut out = Vec::with_capacity(fields.len() + 256);
    out.extend_from_slice(br#"[{"manager":"#);
    typed::push_str(&mut out, &[writer.manager]);
    out.extend_from_slice(br#","operation":"Update","apiVersion":"#);
    typed::push_str(&mut out, &[&writer.api_version()]);
    out.extend_from_slice(br#","time":"#);
    typed::push_str(&mut out, &[writer.now]);
    out.extend_from_slice(br#","fieldsType":"FieldsV1","fieldsV1":"#);
    out.extend_from_slice(fields.as_bytes());
    if !writer.subresource.is_empty() {
        out.extend_from_slice(br#","subresource":"#);
        typed::push_str(&mut out, &[writer.subresource]);
    }
    out.extend_from_slice(b"}]");
    // JSON text, from UTF-8 strings and ASCII.
    String::from_utf8(out).ok().map(ManagedText)
}

/// Applies `config` for `writer` to `live` (`None`: the object does not exist yet) and returns
/// the object to store, managedFields included.
pub fn apply(
    writer: &Writer<'_>,
    live: Option<&Value>,
    config: &Value,
    force: bool,
) -> Result<Value, Error> {
    if !config.is_object() {
        return Err(Error::Invalid("an apply configuration must be an object".into()));
    }
    let root = writer.root();
    let mut managed = live.map(Managed::decode).and_then(Result::ok).unwrap_or_default();
    let live_object = live.map(without_managed);
    let config = without_managed(config);
    let mut applied = Set::new();
    typed::to_set(&config, root, &mut Vec::new(), &mut applied).map_err(Error::Invalid)?;
    writer.strip(&mut applied);
    let mut merged = typed::merge(live_object.as_ref(), &config, root).map_err(Error::Invalid)?;

    let mine = managed.position(writer.manager, Operation::Apply, writer.subresource);
    let last = mine.map(|i| managed.entries[i].fields.clone());
    if let Some(last) = &last {
        // Fields applied last time and not now go, unless someone still owns them or
        // something under them.
        let mut kept = applied.clone();
        for (i, entry) in managed.entries.iter().enumerate() {
            if Some(i) != mine {
                kept.union(&entry.fields);
            }
        }
        let mut doomed = Set::new();
        for path in last.difference(&applied).paths() {
            if !kept.covers(&path) {
                doomed.insert(&path);
            }
        }
        typed::remove(&mut merged, root, &doomed);
    }

    let comparison = writer.compare(live_object.as_ref(), &merged);
    let mut changed = comparison.added.clone();
    changed.union(&comparison.modified);
    let mut conflicts = Vec::new();
    for (i, entry) in managed.entries.iter().enumerate() {
        if Some(i) == mine {
            continue;
        }
        for path in entry.fields.intersection(&changed).paths() {
            conflicts.push(Conflict { manager: entry.printed(), field: display(&path) });
        }
    }
    if !force && !conflicts.is_empty() {
        return Err(Error::Conflicts(conflicts));
    }
    for (i, entry) in managed.entries.iter_mut().enumerate() {
        if Some(i) != mine {
            entry.fields.subtract(&changed);
            entry.fields.subtract(&comparison.removed);
        }
    }
    let object_changed = live_object.as_ref() != Some(&merged);
    let entry = Entry {
        manager: writer.manager.to_owned(),
        operation: Operation::Apply,
        api_version: writer.api_version(),
        time: match mine {
            Some(i) if !object_changed && last.as_ref() == Some(&applied) => {
                managed.entries[i].time.clone()
            }
            _ => Some(writer.now.to_owned()),
        },
        subresource: writer.subresource.to_owned(),
        fields: applied,
    };
    match mine {
        Some(i) => managed.entries[i] = entry,
        None => managed.entries.push(entry),
    }
    managed.encode(&mut merged);
    Ok(merged)
}

#[cfg(test)]
mod tests;
