//! Server-side printing: the `meta.k8s.io/v1` `Table` that `kubectl get` asks for and prints.
//!
//! kubectl has no per-kind printers of its own: every familiar `kubectl get` column is a cell the
//! server computed. This module is Kubernetes v1.33's `pkg/printers/internalversion/printers.go`
//! (`AddHandlers` for the column definitions, `printPod`, `printService`, … for the cells) over
//! the v1 JSON berth stores, plus the generic apiserver's default table (`Name`, `Created At`,
//! `pkg/registry/rest/table.go`) for every resource without a printer. As in kube-apiserver
//! (`pkg/printers/storage`), cells are always generated as for `-o wide`: kubectl hides the
//! columns whose `priority` is above 0 unless asked for them.
//!
//! Suggested reading order: [`table`], [`column_definitions`], [`cells`], then the per-kind
//! printers. Everything is pure; the caller passes the clock as `now_unix_seconds`.
//!
//! The printers read objects as they are after defaulting (a Service has `type`, a port its
//! `protocol`, a pod its `status.phase`): like upstream they print what is there, so an
//! undefaulted object prints as upstream would print that same undefaulted object.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::kinds::ResourceType;
use crate::metatime;

mod stored;

pub use stored::{TableObject, View, table_json};

/// `vec![Value::from(a), …]`: a row of cells from strings, integers and booleans.
macro_rules! cells {
    ($($cell:expr),* $(,)?) => { vec![$(Value::from($cell)),*] };
}

/// One column of a table, as `meta.k8s.io/v1` `TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDefinition {
    /// Human-readable header; kubectl upper-cases it (`Nominated Node` → `NOMINATED NODE`).
    pub name: &'static str,
    /// OpenAPI type of the cells: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: &'static str,
    /// OpenAPI format; `name` marks the column holding the object's name.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 for the default view; kubectl shows higher priorities only with `-o wide`.
    pub priority: i32,
}

impl ColumnDefinition {
    /// The wire form: `{"name":…,"type":…,"format":…,"description":…,"priority":…}`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// What each row's `object` holds: the `?includeObject=` query parameter (`TableOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// `None`: `"object": null`.
    None,
    /// `Metadata`, the default (kubectl sends no parameter): a `PartialObjectMetadata` with the
    /// object's full `metadata`. kubectl needs it for `-A` (the NAMESPACE column),
    /// `--show-labels` and `-L`.
    Metadata,
    /// `Object`: the whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter; absent or empty means
    /// [`IncludeObject::Metadata`].
    /// `None` for an unknown value, which the apiserver rejects with 400 Bad Request.
    pub fn from_query(value: Option<&str>) -> Option<IncludeObject> {
        match value.unwrap_or("") {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// The columns of `resource`'s table; [`cells`] returns one value per column, in this order.
pub fn column_definitions(resource: &ResourceType) -> &'static [ColumnDefinition] {
    Printer::of(resource).columns()
}

/// The cells of one object's row (strings, integers or booleans, as upstream), all columns
/// including the `-o wide` ones. `object` is the object's v1 JSON.
pub fn cells(resource: &ResourceType, object: &Value, now_unix_seconds: i64) -> Vec<Value> {
    Printer::of(resource).cells(object, now_unix_seconds)
}

/// A complete `meta.k8s.io/v1` `Table` of `objects`, one row each, in the given order:
/// `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":…},
/// "columnDefinitions":[…],"rows":[{"cells":[…],"object":…}]}`.
///
/// `resource_version` is the list's resourceVersion (or, for a single GET, the object's);
/// empty leaves `metadata` empty. A caller that pages sets `metadata.continue` itself. Pod rows
/// of finished pods carry upstream's `Completed` row condition.
pub fn table(
    resource: &ResourceType,
    objects: Vec<Value>,
    resource_version: &str,
    include_object: IncludeObject,
    now_unix_seconds: i64,
) -> Value {
    let printer = Printer::of(resource);
    let columns: Vec<Value> = printer.columns().iter().map(ColumnDefinition::to_json).collect();
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|object| row(printer, resource, object, include_object, now_unix_seconds))
        .collect();
    envelope(columns, rows, resource_version)
}

/// The `Table` around `columns` and `rows`, `metadata.resourceVersion` set unless empty.
pub(crate) fn envelope(columns: Vec<Value>, rows: Vec<Value>, resource_version: &str) -> Value {
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    // Built as a map, not with `json!`, which would serialize every row into a copy.
    let mut table = Map::new();
    table.insert("kind".into(), "Table".into());
    table.insert("apiVersion".into(), "meta.k8s.io/v1".into());
    table.insert("metadata".into(), Value::Object(metadata));
    table.insert("columnDefinitions".into(), Value::Array(columns));
    table.insert("rows".into(), Value::Array(rows));
    Value::Object(table)
}

/// One row: `{"cells":[…],"conditions":[…],"object":…}` (`conditions` only when there is one).
fn row(
    printer: Printer,
    resource: &ResourceType,
    object: Value,
    include_object: IncludeObject,
    now_unix_seconds: i64,
) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), Value::Array(printer.cells(&object, now_unix_seconds)));
    if let Some(condition) = printer.row_condition(&object) {
        row.insert("conditions".into(), json!([condition]));
    }
    row.insert("object".into(), row_object(resource, object, include_object));
    Value::Object(row)
}

/// Kubernetes' `duration.HumanDuration` (`k8s.io/apimachinery/pkg/util/duration`), the AGE
/// format: `"45s"`, `"119s"`, `"2m17s"`, `"10m"`, `"179m"`, `"3h4m"`, `"8h"`, `"2d3h"`, `"8d"`,
/// `"2y100d"`, `"8y"`; `"0s"` for -1s (clock skew) and `"<invalid>"` below that.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

// === Column definitions ===

pub(crate) const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating \
    resources, although some resources may allow a client to request the generation of an \
    appropriate name automatically. Name is primarily intended for creation idempotence and \
    configuration definition. Cannot be updated. More info: \
    https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this \
    object was created. It is not guaranteed to be set in happens-before order across separate \
    operations. Clients may not set this value. It is represented in RFC3339 form and is in \
    UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: \
    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";

const fn col(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> ColumnDefinition {
    ColumnDefinition { name, type_, format: "", description, priority: 0 }
}

const fn wide(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> ColumnDefinition {
    ColumnDefinition { name, type_, format: "", description, priority: 1 }
}

const NAME: ColumnDefinition = ColumnDefinition {
    name: "Name",
    type_: "string",
    format: "name",
    description: NAME_DESC,
    priority: 0,
};
const AGE: ColumnDefinition = col("Age", "string", AGE_DESC);

const DEFAULT_COLUMNS: &[ColumnDefinition] = &[NAME, col("Created At", "date", AGE_DESC)];

const POD_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted and when the last \
         container in this pod has restarted.",
    ),
    AGE,
    wide("IP", "string", "podIP address allocated to the pod."),
    wide("Node", "string", "NodeName indicates in which node this pod is scheduled."),
    wide("Nominated Node", "string", "nominatedNodeName is set when this pod preempts other pods."),
    wide("Readiness Gates", "string", "If specified, all readiness gates will be evaluated."),
];

const SERVICE_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Type", "string", "type determines how the Service is exposed."),
    col("Cluster-IP", "string", "clusterIP is the IP address of the service."),
    col(
        "External-IP",
        "string",
        "externalIPs is a list of IP addresses for which nodes will also accept traffic.",
    ),
    col("Port(s)", "string", "The list of ports that are exposed by this service."),
    AGE,
    wide(
        "Selector",
        "string",
        "Route service traffic to pods with label keys and values matching this selector.",
    ),
];

const ENDPOINTS_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Endpoints", "string", "The set of all endpoints is the union of all subsets."),
    AGE,
];

const ENDPOINT_SLICE_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "AddressType",
        "string",
        "addressType specifies the type of address carried by this EndpointSlice.",
    ),
    col(
        "Ports",
        "string",
        "ports specifies the list of network ports exposed by each endpoint in this slice.",
    ),
    col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
    AGE,
];

const NODE_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    wide("Internal-IP", "string", "List of addresses reachable to the node."),
    wide("External-IP", "string", "List of addresses reachable to the node."),
    wide("OS-Image", "string", "OS Image reported by the node from /etc/os-release."),
    wide("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r'."),
    wide(
        "Container-Runtime",
        "string",
        "ContainerRuntime Version reported by the node through runtime remote API.",
    ),
];

const EVENT_COLUMNS: &[ColumnDefinition] = &[
    col(
        "Last Seen",
        "string",
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    col(
        "Type",
        "string",
        "Type of this event (Normal, Warning), new types could be added in the future",
    ),
    col(
        "Reason",
        "string",
        "A short, machine understandable reason for the transition into the object's status.",
    ),
    col("Object", "string", "The object that this event is about."),
    wide(
        "Subobject",
        "string",
        "The field of the object the event is about, if not the entire object.",
    ),
    wide("Source", "string", "The component reporting this event."),
    col("Message", "string", "A human-readable description of the status of this operation."),
    wide("First Seen", "string", "The time at which the event was first recorded."),
    wide("Count", "string", "The number of times this event has occurred."),
    ColumnDefinition {
        name: "Name",
        type_: "string",
        format: "name",
        description: NAME_DESC,
        priority: 1,
    },
];

const NAMESPACE_COLUMNS: &[ColumnDefinition] =
    &[NAME, col("Status", "string", "The status of the namespace"), AGE];

const SECRET_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Type", "string", "Used to facilitate programmatic handling of secret data."),
    col("Data", "string", "Data contains the secret data."),
    AGE,
];

const SERVICE_ACCOUNT_COLUMNS: &[ColumnDefinition] =
    &[NAME, col("Secrets", "string", "Secrets pods running as this ServiceAccount may use."), AGE];

const CONFIG_MAP_COLUMNS: &[ColumnDefinition] =
    &[NAME, col("Data", "string", "Data contains the configuration data."), AGE];

const PERSISTENT_VOLUME_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Capacity",
        "string",
        "capacity is the description of the persistent volume's resources and capacity.",
    ),
    col("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    col(
        "Reclaim Policy",
        "string",
        "What happens to a persistent volume when released from its claim.",
    ),
    col(
        "Status",
        "string",
        "phase indicates if a volume is available, bound to a claim, or released by a claim.",
    ),
    col("Claim", "string", "The claim this volume is bound to."),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col("Reason", "string", "reason is a brief CamelCase string that describes any failure."),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "Whether the volume holds a formatted filesystem or a raw block device.",
    ),
];

const PERSISTENT_VOLUME_CLAIM_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    col(
        "Volume",
        "string",
        "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
    col(
        "Access Modes",
        "string",
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    wide(
        "VolumeMode",
        "string",
        "volumeMode defines what type of volume is required by the claim.",
    ),
];

const STATEFUL_SET_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    wide("Containers", "string", CONTAINERS_DESC),
    wide("Images", "string", IMAGES_DESC),
];

const DEPLOYMENT_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col(
        "Up-to-date",
        "string",
        "Pods targeted by this deployment that have the desired template spec.",
    ),
    col(
        "Available",
        "string",
        "Available pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE,
    wide("Containers", "string", CONTAINERS_DESC),
    wide("Images", "string", IMAGES_DESC),
    wide("Selector", "string", "Label selector for pods."),
];

const REPLICA_SET_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Desired", "integer", "Replicas is the number of desired replicas."),
    col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE,
    wide("Containers", "string", CONTAINERS_DESC),
    wide("Images", "string", IMAGES_DESC),
    wide(
        "Selector",
        "string",
        "Selector is a label query over pods that should match the replica count.",
    ),
];

const DAEMON_SET_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
    col(
        "Current",
        "integer",
        "The number of nodes running a daemon pod that are supposed to run it.",
    ),
    col(
        "Ready",
        "integer",
        "The number of nodes that should run the daemon pod and have it running and ready.",
    ),
    col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
    col(
        "Available",
        "integer",
        "The number of nodes that should run the daemon pod and have it running and available.",
    ),
    col(
        "Node Selector",
        "string",
        "NodeSelector is a selector which must be true for the pod to fit on a node.",
    ),
    AGE,
    wide("Containers", "string", CONTAINERS_DESC),
    wide("Images", "string", IMAGES_DESC),
    wide("Selector", "string", "A label query over pods that are managed by the daemon set."),
];

const CONTROLLER_REVISION_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
    AGE,
];

const STORAGE_CLASS_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    col(
        "ReclaimPolicy",
        "string",
        "The reclaim policy of dynamically provisioned PersistentVolumes of this class.",
    ),
    col(
        "VolumeBindingMode",
        "string",
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        "string",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
];

/// `printPodDisruptionBudget`.
const POD_DISRUPTION_BUDGET_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Min Available", "string", "The minimum number of pods that must be available."),
    col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

/// `printJob`.
const JOB_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col(
        "Completions",
        "string",
        "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
    ),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    wide("Containers", "string", CONTAINERS_DESC),
    wide("Images", "string", IMAGES_DESC),
    wide(
        "Selector",
        "string",
        "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

/// `printCronJob`.
const CRON_JOB_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Schedule",
        "string",
        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
    ),
    col(
        "Timezone",
        "string",
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones",
    ),
    col(
        "Suspend",
        "boolean",
        "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
    ),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col(
        "Last Schedule",
        "string",
        "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
    wide("Containers", "string", CONTAINERS_DESC),
    wide("Images", "string", IMAGES_DESC),
    wide(
        "Selector",
        "string",
        "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
];

/// `printIngress`.
const INGRESS_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
    ),
    col(
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
    ),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

/// `printHorizontalPodAutoscaler` (its descriptions are autoscaling/v2beta1's).
const HORIZONTAL_POD_AUTOSCALER_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Reference",
        "string",
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
    ),
    col(
        "Targets",
        "string",
        "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).  The desired replica count is calculated multiplying the ratio between the target value and the current value by the current number of pods.  Ergo, metrics used must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for more information about how each type of metric must respond.",
    ),
    col(
        "MinPods",
        "string",
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and at least one Object or External metric is configured.  Scaling is active as long as at least one metric value is available.",
    ),
    col(
        "MaxPods",
        "integer",
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot be less that minReplicas.",
    ),
    col(
        "Replicas",
        "integer",
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    ),
    AGE,
];

/// `printResourceQuota`.
const RESOURCE_QUOTA_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
    ),
    col(
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
    ),
    AGE,
];

/// `printIngressClass`.
const INGRESS_CLASS_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
];

/// `printIPAddress`: its rows carry an age cell too, beyond the columns (kubectl drops it).
const IP_ADDRESS_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "ParentRef",
        "string",
        "ParentRef references the resource that an IPAddress is attached to. An IPAddress must reference a parent object.",
    ),
];

/// `printServiceCIDR`.
const SERVICE_CIDR_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "CIDRs",
        "string",
        "CIDRs defines the IP blocks in CIDR notation (e.g. \"192.168.0.0/24\" or \"2001:db8::/64\") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.",
    ),
    AGE,
];

/// `printNetworkPolicy`.
const NETWORK_POLICY_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Pod-Selector",
        "string",
        "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
    ),
    AGE,
];

/// `printPriorityClass`.
const PRIORITY_CLASS_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Value",
        "integer",
        "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
    ),
    col(
        "Global-Default",
        "boolean",
        "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of such global default PriorityClasses will be used as the default priority.",
    ),
    AGE,
    col(
        "PreemptionPolicy",
        "string",
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
    ),
];

const LEASE_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Holder",
        "string",
        "holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE,
];

/// `roleBindingsColumnDefinitions`; the Role column describes `rbacv1beta1`'s roleRef.
const ROLE_BINDING_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Role",
        "string",
        "RoleRef can reference a Role in the current namespace or a ClusterRole in the global \
         namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.",
    ),
    AGE,
    wide("Users", "string", "Users in the roleBinding"),
    wide("Groups", "string", "Groups in the roleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
];

// `pkg/printers/internalversion/printers.go` `AddHandlers`: PodTemplate, RuntimeClass (whose
// `Handler` description is `ObjectMeta`'s swagger doc of a key it lacks: empty) and the CSI kinds
// of storage.k8s.io. CSIStorageCapacity's table has no `Age`.
const POD_TEMPLATE_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Containers", "string", CONTAINERS_DESC),
    col("Images", "string", IMAGES_DESC),
    col("Pod Labels", "string", "The labels for the pod template."),
];
const RUNTIME_CLASS_COLUMNS: &[ColumnDefinition] = &[NAME, col("Handler", "string", ""), AGE];
const CSI_DRIVER_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "AttachRequired",
        "boolean",
        "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting. The CSI external-attacher coordinates with CSI volume driver and updates the volumeattachment status when the attach operation is complete. If the CSIDriverRegistry feature gate is enabled and the value is specified to false, the attach operation will be skipped. Otherwise the attach operation will be called.\n\nThis field is immutable.",
    ),
    col(
        "PodInfoOnMount",
        "boolean",
        "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true. If set to false, pod information will not be passed on mount. Default is false.\n\nThe CSI driver specifies podInfoOnMount as part of driver deployment. If true, Kubelet will pass pod information as VolumeContext in the CSI NodePublishVolume() calls. The CSI driver is responsible for parsing and validating the information passed in as VolumeContext.\n\nThe following VolumeContext will be passed if podInfoOnMount is set to true. This list might grow, but the prefix will be used. \"csi.storage.k8s.io/pod.name\": pod.Name \"csi.storage.k8s.io/pod.namespace\": pod.Namespace \"csi.storage.k8s.io/pod.uid\": string(pod.UID) \"csi.storage.k8s.io/ephemeral\": \"true\" if the volume is an ephemeral inline volume\n                                defined by a CSIVolumeSource, otherwise \"false\"\n\n\"csi.storage.k8s.io/ephemeral\" is a new feature in Kubernetes 1.16. It is only required for drivers which support both the \"Persistent\" and \"Ephemeral\" VolumeLifecycleMode. Other drivers can leave pod info disabled and/or ignore this field. As Kubernetes 1.15 doesn't support this field, drivers can only support one mode when deployed on such a cluster and the deployment determines which mode that is, for example via a command line parameter of the driver.\n\nThis field was immutable in Kubernetes < 1.29 and now is mutable.",
    ),
    col(
        "StorageCapacity",
        "boolean",
        "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true.\n\nThe check can be enabled immediately when deploying a driver. In that case, provisioning new volumes with late binding will pause until the driver deployment has published some suitable CSIStorageCapacity object.\n\nAlternatively, the driver can be deployed with the field unset or false and it can be flipped later when storage capacity information has been published.\n\nThis field was immutable in Kubernetes <= 1.22 and now is mutable.",
    ),
    col(
        "TokenRequests",
        "string",
        "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication. Kubelet will pass the tokens in VolumeContext in the CSI NodePublishVolume calls. The CSI driver should parse and validate the following VolumeContext: \"csi.storage.k8s.io/serviceAccount.tokens\": {\n  \"<audience>\": {\n    \"token\": <token>,\n    \"expirationTimestamp\": <expiration timestamp in RFC3339>,\n  },\n  ...\n}\n\nNote: Audience in each TokenRequest should be different and at most one token is empty string. To receive a new token after expiry, RequiresRepublish can be used to trigger NodePublishVolume periodically.",
    ),
    col(
        "RequiresRepublish",
        "boolean",
        "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false.\n\nNote: After a successful initial NodePublishVolume call, subsequent calls to NodePublishVolume should only update the contents of the volume. New mount points will not be seen by a running container.",
    ),
    col(
        "Modes",
        "string",
        "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports. The default if the list is empty is \"Persistent\", which is the usage defined by the CSI specification and implemented in Kubernetes via the usual PV/PVC mechanism.\n\nThe other mode is \"Ephemeral\". In this mode, volumes are defined inline inside the pod spec with CSIVolumeSource and their lifecycle is tied to the lifecycle of that pod. A driver has to be aware of this because it is only going to get a NodePublishVolume call for such a volume.\n\nFor more information about implementing this mode, see https://kubernetes-csi.github.io/docs/ephemeral-local-volumes.html A driver can support one or more of these modes and more modes may be added in the future.\n\nThis field is beta. This field is immutable.",
    ),
    AGE,
];
const CSI_NODE_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
    AGE,
];
const VOLUME_ATTACHMENT_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    ColumnDefinition {
        name: "Attacher",
        type_: "string",
        format: "name",
        description: "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().",
        priority: 0,
    },
    col(
        "PV",
        "string",
        "persistentVolumeName represents the name of the persistent volume to attach.",
    ),
    col("Node", "string", "nodeName represents the node that the volume should be attached to."),
    col(
        "Attached",
        "boolean",
        "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher.",
    ),
    AGE,
];
const CSI_STORAGE_CAPACITY_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "StorageClassName",
        "string",
        "storageClassName represents the name of the StorageClass that the reported capacity applies to. It must meet the same requirements as the name of a StorageClass object (non-empty, DNS subdomain). If that object no longer exists, the CSIStorageCapacity object is obsolete and should be removed by its creator. This field is immutable.",
    ),
    col(
        "Capacity",
        "string",
        "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields.\n\nThe semantic is currently (CSI spec 1.2) defined as: The available capacity, in bytes, of the storage that can be used to provision volumes. If not set, that information is currently unavailable.",
    ),
];
const CLUSTER_ROLE_BINDING_COLUMNS: &[ColumnDefinition] = &[
    NAME,
    col(
        "Role",
        "string",
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot \
         be resolved, the Authorizer must return an error.",
    ),
    AGE,
    wide("Users", "string", "Users in the clusterRoleBinding"),
    wide("Groups", "string", "Groups in the clusterRoleBinding"),
    wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
];

// === Printers ===

/// Which printer serves a resource; core and `events.k8s.io` events share one printer over
/// differently named fields, as upstream converts both to the internal `core.Event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Namespace,
    Pod,
    Service,
    Endpoints,
    PersistentVolumeClaim,
    PersistentVolume,
    ConfigMap,
    Secret,
    ServiceAccount,
    Event(EventApi),
    Node,
    StatefulSet,
    ControllerRevision,
    Deployment,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    EndpointSlice,
    StorageClass,
    Lease,
    PodDisruptionBudget,
    PriorityClass,
    Ingress,
    IngressClass,
    ResourceQuota,
    /// autoscaling/v2 or (converted to v2 first) autoscaling/v1.
    HorizontalPodAutoscaler(HpaApi),
    NetworkPolicy,
    IpAddress,
    ServiceCidr,
    RoleBinding,
    ClusterRoleBinding,
    PodTemplate,
    RuntimeClass,
    CsiDriver,
    CsiNode,
    VolumeAttachment,
    CsiStorageCapacity,
    /// The generic apiserver's default: `Name`, `Created At`.
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventApi {
    /// `v1` `Event`: `involvedObject`, `message`, `source`, `firstTimestamp`, …
    Core,
    /// `events.k8s.io/v1` `Event`: `regarding`, `note`, `deprecatedSource`, …
    EventsV1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HpaApi {
    V1,
    V2,
}

impl Printer {
    fn of(resource: &ResourceType) -> Printer {
        match (resource.group, resource.kind) {
            ("", "Namespace") => Printer::Namespace,
            ("", "Pod") => Printer::Pod,
            ("", "Service") => Printer::Service,
            ("", "Endpoints") => Printer::Endpoints,
            ("", "PersistentVolumeClaim") => Printer::PersistentVolumeClaim,
            ("", "PersistentVolume") => Printer::PersistentVolume,
            ("", "ConfigMap") => Printer::ConfigMap,
            ("", "Secret") => Printer::Secret,
            ("", "ServiceAccount") => Printer::ServiceAccount,
            ("", "Event") => Printer::Event(EventApi::Core),
            ("events.k8s.io", "Event") => Printer::Event(EventApi::EventsV1),
            ("", "Node") => Printer::Node,
            ("apps", "StatefulSet") => Printer::StatefulSet,
            ("apps", "ControllerRevision") => Printer::ControllerRevision,
            ("apps", "Deployment") => Printer::Deployment,
            ("apps", "ReplicaSet") => Printer::ReplicaSet,
            ("apps", "DaemonSet") => Printer::DaemonSet,
            ("batch", "Job") => Printer::Job,
            ("batch", "CronJob") => Printer::CronJob,
            ("discovery.k8s.io", "EndpointSlice") => Printer::EndpointSlice,
            ("storage.k8s.io", "StorageClass") => Printer::StorageClass,
            ("coordination.k8s.io", "Lease") => Printer::Lease,
            ("policy", "PodDisruptionBudget") => Printer::PodDisruptionBudget,
            ("scheduling.k8s.io", "PriorityClass") => Printer::PriorityClass,
            ("networking.k8s.io", "Ingress") => Printer::Ingress,
            ("networking.k8s.io", "IngressClass") => Printer::IngressClass,
            ("", "ResourceQuota") => Printer::ResourceQuota,
            ("autoscaling", "HorizontalPodAutoscaler") => {
                Printer::HorizontalPodAutoscaler(match resource.version {
                    "v1" => HpaApi::V1,
                    _ => HpaApi::V2,
                })
            }
            ("networking.k8s.io", "NetworkPolicy") => Printer::NetworkPolicy,
            ("networking.k8s.io", "IPAddress") => Printer::IpAddress,
            ("networking.k8s.io", "ServiceCIDR") => Printer::ServiceCidr,
            ("rbac.authorization.k8s.io", "RoleBinding") => Printer::RoleBinding,
            ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Printer::ClusterRoleBinding,
            ("", "PodTemplate") => Printer::PodTemplate,
            ("node.k8s.io", "RuntimeClass") => Printer::RuntimeClass,
            ("storage.k8s.io", "CSIDriver") => Printer::CsiDriver,
            ("storage.k8s.io", "CSINode") => Printer::CsiNode,
            ("storage.k8s.io", "VolumeAttachment") => Printer::VolumeAttachment,
            ("storage.k8s.io", "CSIStorageCapacity") => Printer::CsiStorageCapacity,
            // Role and ClusterRole print `Name` and `Created At`, like the default.
            _ => Printer::Default,
        }
    }

    fn columns(self) -> &'static [ColumnDefinition] {
        match self {
            Printer::Namespace => NAMESPACE_COLUMNS,
            Printer::Pod => POD_COLUMNS,
            Printer::Service => SERVICE_COLUMNS,
            Printer::Endpoints => ENDPOINTS_COLUMNS,
            Printer::PersistentVolumeClaim => PERSISTENT_VOLUME_CLAIM_COLUMNS,
            Printer::PersistentVolume => PERSISTENT_VOLUME_COLUMNS,
            Printer::ConfigMap => CONFIG_MAP_COLUMNS,
            Printer::Secret => SECRET_COLUMNS,
            Printer::ServiceAccount => SERVICE_ACCOUNT_COLUMNS,
            Printer::Event(_) => EVENT_COLUMNS,
            Printer::Node => NODE_COLUMNS,
            Printer::StatefulSet => STATEFUL_SET_COLUMNS,
            Printer::ControllerRevision => CONTROLLER_REVISION_COLUMNS,
            Printer::Deployment => DEPLOYMENT_COLUMNS,
            Printer::ReplicaSet => REPLICA_SET_COLUMNS,
            Printer::DaemonSet => DAEMON_SET_COLUMNS,
            Printer::Job => JOB_COLUMNS,
            Printer::CronJob => CRON_JOB_COLUMNS,
            Printer::EndpointSlice => ENDPOINT_SLICE_COLUMNS,
            Printer::StorageClass => STORAGE_CLASS_COLUMNS,
            Printer::Lease => LEASE_COLUMNS,
            Printer::PodDisruptionBudget => POD_DISRUPTION_BUDGET_COLUMNS,
            Printer::PriorityClass => PRIORITY_CLASS_COLUMNS,
            Printer::Ingress => INGRESS_COLUMNS,
            Printer::IngressClass => INGRESS_CLASS_COLUMNS,
            Printer::ResourceQuota => RESOURCE_QUOTA_COLUMNS,
            Printer::HorizontalPodAutoscaler(_) => HORIZONTAL_POD_AUTOSCALER_COLUMNS,
            Printer::NetworkPolicy => NETWORK_POLICY_COLUMNS,
            Printer::IpAddress => IP_ADDRESS_COLUMNS,
            Printer::ServiceCidr => SERVICE_CIDR_COLUMNS,
            Printer::RoleBinding => ROLE_BINDING_COLUMNS,
            Printer::ClusterRoleBinding => CLUSTER_ROLE_BINDING_COLUMNS,
            Printer::PodTemplate => POD_TEMPLATE_COLUMNS,
            Printer::RuntimeClass => RUNTIME_CLASS_COLUMNS,
            Printer::CsiDriver => CSI_DRIVER_COLUMNS,
            Printer::CsiNode => CSI_NODE_COLUMNS,
            Printer::VolumeAttachment => VOLUME_ATTACHMENT_COLUMNS,
            Printer::CsiStorageCapacity => CSI_STORAGE_CAPACITY_COLUMNS,
            Printer::Default => DEFAULT_COLUMNS,
        }
    }

    fn cells(self, o: &Value, now: i64) -> Vec<Value> {
        let name = text(&o["metadata"]["name"]);
        let created = || age(o, now);
        match self {
            Printer::Namespace => cells![name, text(&o["status"]["phase"]), created()],
            Printer::Pod => pod_cells(o, now),
            Printer::Service => service_cells(o, now),
            Printer::Endpoints => cells![name, format_endpoints(&o["subsets"]), created()],
            Printer::PersistentVolumeClaim => persistent_volume_claim_cells(o, now),
            Printer::PersistentVolume => persistent_volume_cells(o, now),
            Printer::ConfigMap => {
                cells![name, len(&o["data"]) + len(&o["binaryData"]), created()]
            }
            Printer::Secret => cells![name, text(&o["type"]), secret_keys(o), created()],
            Printer::ServiceAccount => cells![name, len(&o["secrets"]), created()],
            Printer::Event(api) => event_cells(api, o, now),
            Printer::Node => node_cells(o, now),
            Printer::StatefulSet => {
                let (names, images) = container_cells(&o["spec"]["template"]["spec"]["containers"]);
                let ready = format!(
                    "{}/{}",
                    int(&o["status"]["readyReplicas"]),
                    int(&o["spec"]["replicas"])
                );
                cells![name, ready, created(), names, images]
            }
            Printer::ControllerRevision => {
                cells![name, controller_name(o), int(&o["revision"]), created()]
            }
            Printer::Deployment => {
                let (spec, status) = (&o["spec"], &o["status"]);
                let (names, images) = container_cells(&spec["template"]["spec"]["containers"]);
                let ready = format!("{}/{}", int(&status["readyReplicas"]), int(&spec["replicas"]));
                cells![
                    name,
                    ready,
                    int(&status["updatedReplicas"]),
                    int(&status["availableReplicas"]),
                    created(),
                    names,
                    images,
                    label_selector(&spec["selector"]).unwrap_or_else(|| "<invalid>".to_owned())
                ]
            }
            Printer::ReplicaSet => {
                let (spec, status) = (&o["spec"], &o["status"]);
                let (names, images) = container_cells(&spec["template"]["spec"]["containers"]);
                cells![
                    name,
                    int(&spec["replicas"]),
                    int(&status["replicas"]),
                    int(&status["readyReplicas"]),
                    created(),
                    names,
                    images,
                    format_label_selector(&spec["selector"])
                ]
            }
            Printer::DaemonSet => {
                let (spec, status) = (&o["spec"], &o["status"]);
                let pod_spec = &spec["template"]["spec"];
                let (names, images) = container_cells(&pod_spec["containers"]);
                cells![
                    name,
                    int(&status["desiredNumberScheduled"]),
                    int(&status["currentNumberScheduled"]),
                    int(&status["numberReady"]),
                    int(&status["updatedNumberScheduled"]),
                    int(&status["numberAvailable"]),
                    format_labels(&pod_spec["nodeSelector"]),
                    created(),
                    names,
                    images,
                    format_label_selector(&spec["selector"])
                ]
            }
            Printer::EndpointSlice => cells![
                name,
                text(&o["addressType"]),
                format_discovery_ports(&o["ports"]),
                format_discovery_endpoints(&o["endpoints"]),
                created()
            ],
            Printer::StorageClass => storage_class_cells(o, now),
            Printer::Lease => cells![name, text(&o["spec"]["holderIdentity"]), created()],
            Printer::PodDisruptionBudget => cells![
                name,
                int_or_string(&o["spec"]["minAvailable"]),
                int_or_string(&o["spec"]["maxUnavailable"]),
                int(&o["status"]["disruptionsAllowed"]),
                created()
            ],
            Printer::PriorityClass => cells![
                name,
                int(&o["value"]),
                o["globalDefault"].as_bool().unwrap_or(false),
                created(),
                text(&o["preemptionPolicy"])
            ],
            Printer::Job => job_cells(o, now),
            Printer::CronJob => {
                let spec = &o["spec"];
                let job = &spec["jobTemplate"]["spec"];
                let last = match timestamp(&o["status"]["lastScheduleTime"]) {
                    Some(time) => since(Some(time), now),
                    None => "<none>".to_owned(),
                };
                let suspend = match spec["suspend"].as_bool() {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                let (names, images) = container_cells(&job["template"]["spec"]["containers"]);
                cells![
                    name,
                    text(&spec["schedule"]),
                    spec["timeZone"].as_str().unwrap_or("<none>"),
                    suspend,
                    array(&o["status"]["active"]).len(),
                    last,
                    created(),
                    names,
                    images,
                    format_label_selector(&job["selector"])
                ]
            }
            Printer::Ingress => ingress_cells(o, now),
            Printer::IngressClass => {
                let spec = &o["spec"];
                let parameters = match spec.get("parameters").filter(|p| p.is_object()) {
                    None => "<none>".to_owned(),
                    Some(p) => match p.get("apiGroup").and_then(Value::as_str) {
                        Some(group) => format!("{}.{group}/{}", text(&p["kind"]), text(&p["name"])),
                        None => format!("{}/{}", text(&p["kind"]), text(&p["name"])),
                    },
                };
                cells![name, text(&spec["controller"]), parameters, created()]
            }
            Printer::HorizontalPodAutoscaler(api) => horizontal_pod_autoscaler_cells(api, o, now),
            Printer::ResourceQuota => {
                let (request, limit) = resource_quota_cells(o);
                cells![name, request, limit, created()]
            }
            Printer::NetworkPolicy => {
                cells![name, format_label_selector(&o["spec"]["podSelector"]), created()]
            }
            Printer::IpAddress => {
                let parent = &o["spec"]["parentRef"];
                let parent = if parent.is_object() {
                    // `schema.GroupResource.String()`, lower-cased.
                    let (group, resource) = (text(&parent["group"]), text(&parent["resource"]));
                    let mut named = if group.is_empty() {
                        resource.to_lowercase()
                    } else {
                        format!("{resource}.{group}").to_lowercase()
                    };
                    let namespace = text(&parent["namespace"]);
                    if !namespace.is_empty() {
                        named = format!("{named}/{namespace}");
                    }
                    format!("{named}/{}", text(&parent["name"]))
                } else {
                    "<none>".to_owned()
                };
                cells![name, parent, created()]
            }
            Printer::ServiceCidr => {
                let cidrs: Vec<&str> = array(&o["spec"]["cidrs"]).iter().map(text).collect();
                cells![name, cidrs.join(","), created()]
            }
            // `printPodTemplate`.
            Printer::PodTemplate => {
                let template = &o["template"];
                let (names, images) = container_cells(&template["spec"]["containers"]);
                cells![name, names, images, format_labels(&template["metadata"]["labels"])]
            }
            // `printRuntimeClass`.
            Printer::RuntimeClass => cells![name, text(&o["handler"]), created()],
            Printer::CsiDriver => csi_driver_cells(o, now),
            // `printCSINode`.
            Printer::CsiNode => cells![name, len(&o["spec"]["drivers"]), created()],
            // `printVolumeAttachment`: an inline volume spec shows no PV.
            Printer::VolumeAttachment => {
                let spec = &o["spec"];
                cells![
                    name,
                    text(&spec["attacher"]),
                    text(&spec["source"]["persistentVolumeName"]),
                    text(&spec["nodeName"]),
                    o["status"]["attached"].as_bool().unwrap_or(false),
                    created()
                ]
            }
            // `printCSIStorageCapacity`: `<unset>` when no capacity was reported.
            Printer::CsiStorageCapacity => {
                let capacity = match &o["capacity"] {
                    Value::Null => "<unset>".to_owned(),
                    capacity => quantity(capacity),
                };
                cells![name, text(&o["storageClassName"]), capacity]
            }
            Printer::RoleBinding | Printer::ClusterRoleBinding => {
                let role =
                    format!("{}/{}", text(&o["roleRef"]["kind"]), text(&o["roleRef"]["name"]));
                let (users, groups, accounts) = subjects_strings(&o["subjects"]);
                cells![name, role, created(), users, groups, accounts]
            }
            Printer::Default => {
                let created =
                    timestamp(&o["metadata"]["creationTimestamp"]).unwrap_or(metatime::ZERO_UNIX);
                cells![name, metatime::format_seconds(created)]
            }
        }
    }

    /// What [`Printer::cells`] and [`Printer::row_condition`] read of an object besides its
    /// `metadata`, for [`TableObject::from_stored`] to parse only that.
    fn reads(self) -> stored::Shape {
        match self {
            Printer::Pod => POD_READS,
            _ => stored::Shape::All,
        }
    }

    /// Upstream's `TableRowCondition` for finished pods (`podSuccessConditions`,
    /// `podFailedConditions`); no other printer sets one.
    fn row_condition(self, o: &Value) -> Option<Value> {
        if self != Printer::Pod {
            return None;
        }
        let (reason, message) = match text(&o["status"]["phase"]) {
            "Succeeded" => ("Succeeded", "The pod has completed successfully."),
            "Failed" => ("Failed", "The pod failed."),
            _ => return None,
        };
        Some(json!({"type": "Completed", "status": "True", "reason": reason, "message": message}))
    }
}

/// The row's `object` per `includeObject`, as the apiserver's `asTable` sets it.
fn row_object(resource: &ResourceType, mut object: Value, include_object: IncludeObject) -> Value {
    match include_object {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => partial_object_metadata(object),
        IncludeObject::Object => {
            if let Value::Object(map) = &mut object {
                map.entry("kind").or_insert_with(|| resource.kind.into());
                map.entry("apiVersion").or_insert_with(|| resource.api_version().into());
            }
            object
        }
    }
}

/// `object`'s metadata as a `PartialObjectMetadata` (a row's `object` by default).
pub(crate) fn partial_object_metadata(mut object: Value) -> Value {
    let metadata = match object.get_mut("metadata").map(Value::take) {
        Some(Value::Object(m)) => Value::Object(m),
        _ => json!({}),
    };
    let mut partial = Map::new();
    partial.insert("kind".into(), "PartialObjectMetadata".into());
    partial.insert("apiVersion".into(), "meta.k8s.io/v1".into());
    partial.insert("metadata".into(), metadata);
    Value::Object(partial)
}

// === impl Pod ===

/// What [`pod_cells`] reads besides `metadata`: most of a pod's spec (its containers) is not.
const POD_READS: stored::Shape = {
    use stored::Shape::{All, Each, Keys};
    Keys(&[
        (
            "spec",
            Keys(&[
                ("initContainers", Each(&Keys(&[("name", All), ("restartPolicy", All)]))),
                // Only counted.
                ("containers", Each(&Keys(&[]))),
                ("nodeName", All),
                ("readinessGates", All),
            ]),
        ),
        ("status", All),
    ])
};

fn pod_cells(pod: &Value, now: i64) -> Vec<Value> {
    let (spec, status) = (&pod["spec"], &pod["status"]);
    let init_containers = array(&spec["initContainers"]);
    let is_restartable_init = |name: &str| {
        init_containers
            .iter()
            .any(|c| text(&c["name"]) == name && text(&c["restartPolicy"]) == "Always")
    };

    let mut restarts = 0;
    let mut restartable_init_restarts = 0;
    let total_containers = array(&spec["containers"]).len()
        + init_containers.iter().filter(|c| text(&c["restartPolicy"]) == "Always").count();
    let mut ready_containers = 0;
    let mut last_restart: Option<i64> = None;
    let mut last_restartable_init_restart: Option<i64> = None;

    let phase = text(&status["phase"]);
    let mut reason = match text(&status["reason"]) {
        "" => phase.to_owned(),
        reason => reason.to_owned(),
    };
    for condition in array(&status["conditions"]) {
        if text(&condition["type"]) == "PodScheduled"
            && text(&condition["reason"]) == "SchedulingGated"
        {
            reason = "SchedulingGated".to_owned();
        }
    }

    let mut initializing = false;
    for (i, container) in array(&status["initContainerStatuses"]).iter().enumerate() {
        let restartable = is_restartable_init(text(&container["name"]));
        let count = int(&container["restartCount"]);
        let finished = last_termination(container);
        restarts += count;
        last_restart = last_restart.max(finished);
        if restartable {
            restartable_init_restarts += count;
            last_restartable_init_restart = last_restartable_init_restart.max(finished);
        }
        let (terminated, waiting) =
            (&container["state"]["terminated"], &container["state"]["waiting"]);
        if terminated.is_object() && int(&terminated["exitCode"]) == 0 {
            continue;
        }
        if restartable && container["started"].as_bool() == Some(true) {
            if container["ready"].as_bool() == Some(true) {
                ready_containers += 1;
            }
            continue;
        }
        reason = if terminated.is_object() {
            match text(&terminated["reason"]) {
                "" => match int(&terminated["signal"]) {
                    0 => format!("Init:ExitCode:{}", int(&terminated["exitCode"])),
                    signal => format!("Init:Signal:{signal}"),
                },
                r => format!("Init:{r}"),
            }
        } else if waiting.is_object()
            && !text(&waiting["reason"]).is_empty()
            && text(&waiting["reason"]) != "PodInitializing"
        {
            format!("Init:{}", text(&waiting["reason"]))
        } else {
            format!("Init:{i}/{}", init_containers.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(status, "Initialized") {
        restarts = restartable_init_restarts;
        last_restart = last_restartable_init_restart;
        let mut has_running = false;
        for container in array(&status["containerStatuses"]).iter().rev() {
            restarts += int(&container["restartCount"]);
            last_restart = last_restart.max(last_termination(container));
            let (state, ready) = (&container["state"], container["ready"].as_bool() == Some(true));
            let (terminated, waiting) = (&state["terminated"], &state["waiting"]);
            if waiting.is_object() && !text(&waiting["reason"]).is_empty() {
                reason = text(&waiting["reason"]).to_owned();
            } else if terminated.is_object() && !text(&terminated["reason"]).is_empty() {
                reason = text(&terminated["reason"]).to_owned();
            } else if terminated.is_object() {
                reason = match int(&terminated["signal"]) {
                    0 => format!("ExitCode:{}", int(&terminated["exitCode"])),
                    signal => format!("Signal:{signal}"),
                };
            } else if ready && state["running"].is_object() {
                has_running = true;
                ready_containers += 1;
            }
        }
        // A pod whose last container completed but another still runs is Running (or NotReady).
        if reason == "Completed" && has_running {
            reason =
                if condition_true(status, "Ready") { "Running" } else { "NotReady" }.to_owned();
        }
    }

    let deleting = !pod["metadata"]["deletionTimestamp"].is_null();
    if deleting && text(&status["reason"]) == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".to_owned();
    }

    let restarts = match last_restart {
        Some(_) if restarts != 0 => format!("{restarts} ({} ago)", since(last_restart, now)),
        _ => restarts.to_string(),
    };

    // The internal PodStatus has only podIPs; conversion fills it from podIP when empty.
    let pod_ip = match text(&status["podIPs"][0]["ip"]) {
        "" => text(&status["podIP"]),
        ip => ip,
    };
    let readiness_gates = array(&spec["readinessGates"]);
    let readiness_gates = if readiness_gates.is_empty() {
        "<none>".to_owned()
    } else {
        let passing = readiness_gates
            .iter()
            .filter(|gate| {
                array(&status["conditions"])
                    .iter()
                    .find(|c| c["type"] == gate["conditionType"])
                    .is_some_and(|c| text(&c["status"]) == "True")
            })
            .count();
        format!("{passing}/{}", readiness_gates.len())
    };

    cells![
        text(&pod["metadata"]["name"]),
        format!("{ready_containers}/{total_containers}"),
        reason,
        restarts,
        age(pod, now),
        or_none(pod_ip),
        or_none(text(&spec["nodeName"])),
        or_none(text(&status["nominatedNodeName"])),
        readiness_gates
    ]
}

/// When a container last terminated (`lastState.terminated.finishedAt`), if it has.
fn last_termination(container: &Value) -> Option<i64> {
    timestamp(&container["lastState"]["terminated"]["finishedAt"])
}

/// Whether the first condition of `type_` in `status.conditions` is `True`.
fn condition_true(status: &Value, type_: &str) -> bool {
    array(&status["conditions"])
        .iter()
        .find(|c| text(&c["type"]) == type_)
        .is_some_and(|c| text(&c["status"]) == "True")
}

// === impl ResourceQuota ===

/// `printResourceQuota`'s request and limit cells: `name: used/hard` for every resource of
/// `status.hard` in name order (a missing used is 0), the `limits.*` ones in the limit cell.
fn resource_quota_cells(o: &Value) -> (String, String) {
    let (hard, used) = crate::quota::status_lists(o);
    let (mut request, mut limit) = (Vec::new(), Vec::new());
    for (name, quantity) in &hard {
        let used = used.get(name).map_or_else(|| "0".to_owned(), ToString::to_string);
        let cell = if name.starts_with("limits.") { &mut limit } else { &mut request };
        cell.push(format!("{name}: {used}/{quantity}"));
    }
    (request.join(", "), limit.join(", "))
}

// === impl Service, Endpoints, EndpointSlice ===

/// `printJob`: the status from the conditions (Complete, Failed, Terminating, Suspended,
/// FailureTarget, else Running), `succeeded/completions` (`/1 of N` with no completions and a
/// parallelism above one), the duration from the start to the completion or to now.
fn job_cells(o: &Value, now: i64) -> Vec<Value> {
    let (spec, status) = (&o["spec"], &o["status"]);
    let succeeded = int(&status["succeeded"]);
    let completions = match spec["completions"].as_i64() {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => match spec["parallelism"].as_i64().unwrap_or(0) {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (timestamp(&status["startTime"]), timestamp(&status["completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    };
    let condition = |kind: &str| {
        array(&status["conditions"]).iter().any(|c| c["type"] == kind && c["status"] == "True")
    };
    let state = if condition("Complete") {
        "Complete"
    } else if condition("Failed") {
        "Failed"
    } else if !o["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if condition("Suspended") {
        "Suspended"
    } else if condition("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = container_cells(&spec["template"]["spec"]["containers"]);
    cells![
        text(&o["metadata"]["name"]),
        state,
        completions,
        duration,
        age(o, now),
        names,
        images,
        format_label_selector(&spec["selector"])
    ]
}

/// `printIngress`: the class (`<none>` without one), `formatHosts` (up to three hosts, then
/// `+ N more...` counted in rules; `*` when no rule names one), the load balancer's addresses
/// and `formatPorts`.
fn ingress_cells(o: &Value, now: i64) -> Vec<Value> {
    const MAX_HOSTS: usize = 3;
    let spec = &o["spec"];
    let class = spec.get("ingressClassName").and_then(Value::as_str).unwrap_or("<none>");
    let rules = array(&spec["rules"]);
    let (mut hosts, mut more) = (Vec::new(), false);
    for rule in rules {
        more |= hosts.len() == MAX_HOSTS;
        if !more && !text(&rule["host"]).is_empty() {
            hosts.push(text(&rule["host"]));
        }
    }
    let hosts = match (hosts.is_empty(), more) {
        (true, _) => "*".to_owned(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - MAX_HOSTS),
        (false, false) => hosts.join(","),
    };
    let addresses = load_balancer_addresses(&o["status"]["loadBalancer"]);
    let ports = if array(&spec["tls"]).is_empty() { "80" } else { "80, 443" };
    cells![text(&o["metadata"]["name"]), class, hosts, addresses.join(","), ports, age(o, now)]
}

/// `printHorizontalPodAutoscaler`: `Kind/name`, the targets as `formatHPAMetrics` writes
/// them, `<unset>` without minReplicas. An autoscaling/v1 object is printed in its v2 form, as
/// upstream prints the internal one.
fn horizontal_pod_autoscaler_cells(api: HpaApi, o: &Value, now: i64) -> Vec<Value> {
    let converted;
    let o = match api {
        HpaApi::V1 => {
            converted = crate::autoscaling::v1_to_v2(o);
            &converted
        }
        HpaApi::V2 => o,
    };
    let spec = &o["spec"];
    let reference = format!(
        "{}/{}",
        text(&spec["scaleTargetRef"]["kind"]),
        text(&spec["scaleTargetRef"]["name"])
    );
    let min_pods = match spec["minReplicas"].as_i64() {
        Some(min) => min.to_string(),
        None => "<unset>".to_owned(),
    };
    cells![
        text(&o["metadata"]["name"]),
        reference,
        format_hpa_metrics(&spec["metrics"], &o["status"]["currentMetrics"]),
        min_pods,
        int(&spec["maxReplicas"]),
        int(&o["status"]["currentReplicas"]),
        age(o, now)
    ]
}

/// `formatHPAMetrics`: each metric as `current/target`, `<unknown>` for a current value not
/// reported, at most two and then `+ N more...`.
fn format_hpa_metrics(specs: &Value, statuses: &Value) -> String {
    let specs = array(specs);
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let statuses = array(statuses);
    let status = |i: usize, key: &str| statuses.get(i).map(|s| &s[key]).filter(|v| v.is_object());
    let unknown = || "<unknown>".to_owned();
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let entry = match text(&spec["type"]) {
            "External" | "Object" => {
                let key = if spec["type"] == "External" { "external" } else { "object" };
                let target = &spec[key]["target"];
                if !target["averageValue"].is_null() {
                    let current = status(i, key)
                        .map(|s| &s["current"]["averageValue"])
                        .filter(|v| !v.is_null())
                        .map_or_else(unknown, quantity);
                    format!("{current}/{} (avg)", quantity(&target["averageValue"]))
                } else {
                    let current =
                        status(i, key).map_or_else(unknown, |s| quantity(&s["current"]["value"]));
                    format!("{current}/{}", quantity(&target["value"]))
                }
            }
            "Pods" => {
                let current = status(i, "pods")
                    .map_or_else(unknown, |s| quantity(&s["current"]["averageValue"]));
                format!("{current}/{}", quantity(&spec["pods"]["target"]["averageValue"]))
            }
            "Resource" | "ContainerResource" => {
                let key = if spec["type"] == "Resource" { "resource" } else { "containerResource" };
                let source = &spec[key];
                let target = &source["target"];
                if !target["averageValue"].is_null() {
                    let current = status(i, key)
                        .map_or_else(unknown, |s| quantity(&s["current"]["averageValue"]));
                    format!(
                        "{}: {current}/{}",
                        text(&source["name"]),
                        quantity(&target["averageValue"])
                    )
                } else {
                    let current = status(i, key)
                        .and_then(|s| s["current"]["averageUtilization"].as_i64())
                        .map_or_else(unknown, |u| format!("{u}%"));
                    let target = target["averageUtilization"]
                        .as_i64()
                        .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
                    format!("{}: {current}/{target}", text(&source["name"]))
                }
            }
            _ => "<unknown type>".to_owned(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > 2 {
        list.truncate(2);
        return format!("{} + {} more...", list.join(", "), count - 2);
    }
    list.join(", ")
}

/// `loadBalancerStatusStringer` (Services) and `ingressLoadBalancerStatusStringer` (Ingresses)
/// as for `-o wide`: each ingress point's IP, or else its hostname, sorted and unique.
fn load_balancer_addresses(load_balancer: &Value) -> Vec<&str> {
    let addresses: BTreeSet<&str> = array(&load_balancer["ingress"])
        .iter()
        .filter_map(|point| {
            [text(&point["ip"]), text(&point["hostname"])].into_iter().find(|a| !a.is_empty())
        })
        .collect();
    addresses.into_iter().collect()
}

fn service_cells(svc: &Value, now: i64) -> Vec<Value> {
    let spec = &svc["spec"];
    let type_ = text(&spec["type"]);
    // The internal ServiceSpec is read through clusterIPs; conversion fills it from clusterIP.
    let cluster_ip = match (text(&spec["clusterIPs"][0]), text(&spec["clusterIP"])) {
        ("", "") => "<none>",
        ("", ip) | (ip, _) => ip,
    };
    let external_ips: Vec<&str> = array(&spec["externalIPs"]).iter().map(text).collect();
    let external_ip = match type_ {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_owned(),
        "LoadBalancer" => {
            let mut all = load_balancer_addresses(&svc["status"]["loadBalancer"]);
            if all.is_empty() && external_ips.is_empty() {
                "<pending>".to_owned()
            } else {
                all.extend(external_ips);
                all.join(",")
            }
        }
        "ExternalName" => text(&spec["externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = array(&spec["ports"])
        .iter()
        .map(|p| {
            let (port, protocol) = (int(&p["port"]), text(&p["protocol"]));
            match int(&p["nodePort"]) {
                node_port if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") };
    cells![
        text(&svc["metadata"]["name"]),
        type_,
        cluster_ip,
        external_ip,
        ports,
        age(svc, now),
        format_labels(&spec["selector"])
    ]
}

/// `formatEndpoints` with all ports: at most three `ip:port`, then ` + N more...`.
fn format_endpoints(subsets: &Value) -> String {
    let subsets = array(subsets);
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    const MAX: usize = 3;
    let (mut list, mut more, mut count) = (Vec::new(), false, 0);
    for subset in subsets {
        let addresses = array(&subset["addresses"]);
        let ports = array(&subset["ports"]);
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(text(&address["ip"]).to_owned());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(join_host_port(text(&address["ip"]), int(&port["port"])));
            }
        }
    }
    let joined = list.join(",");
    if more { format!("{joined} + {} more...", count - MAX) } else { joined }
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

fn format_discovery_ports(ports: &Value) -> String {
    let ports = array(ports);
    let list: Vec<String> = ports
        .iter()
        .take(3)
        .map(|p| match (&p["port"], &p["name"]) {
            (Value::Number(n), _) => n.to_string(),
            (_, Value::String(name)) => name.clone(),
            _ => "*".to_owned(),
        })
        .collect();
    list_with_more(list, ports.len())
}

fn format_discovery_endpoints(endpoints: &Value) -> String {
    let addresses: Vec<&str> =
        array(endpoints).iter().flat_map(|e| array(&e["addresses"])).map(text).collect();
    let count = addresses.len();
    list_with_more(addresses.into_iter().take(3).map(str::to_owned).collect(), count)
}

/// `listWithMoreString` with max 3: `a,b,c + 2 more...`, or `<unset>` when empty.
fn list_with_more(list: Vec<String>, count: usize) -> String {
    let joined = list.join(",");
    if count > 3 {
        format!("{joined} + {} more...", count - 3)
    } else if joined.is_empty() {
        "<unset>".to_owned()
    } else {
        joined
    }
}

// === impl PersistentVolume, PersistentVolumeClaim, StorageClass ===

fn persistent_volume_cells(pv: &Value, now: i64) -> Vec<Value> {
    let spec = &pv["spec"];
    let claim = match &spec["claimRef"] {
        Value::Object(_) => {
            format!("{}/{}", text(&spec["claimRef"]["namespace"]), text(&spec["claimRef"]["name"]))
        }
        _ => String::new(),
    };
    let phase = if deleting(pv) { "Terminating" } else { text(&pv["status"]["phase"]) };
    let class = match &pv["metadata"]["annotations"][BETA_STORAGE_CLASS] {
        Value::String(class) => class.as_str(),
        _ => text(&spec["storageClassName"]),
    };
    cells![
        text(&pv["metadata"]["name"]),
        quantity(&spec["capacity"]["storage"]),
        access_modes(&spec["accessModes"]),
        text(&spec["persistentVolumeReclaimPolicy"]),
        phase,
        claim,
        class,
        unset_or(&spec["volumeAttributesClassName"]),
        text(&pv["status"]["reason"]),
        age(pv, now),
        unset_or(&spec["volumeMode"])
    ]
}

fn persistent_volume_claim_cells(pvc: &Value, now: i64) -> Vec<Value> {
    let (spec, status) = (&pvc["spec"], &pvc["status"]);
    let phase = if deleting(pvc) { "Terminating" } else { text(&status["phase"]) };
    let volume = text(&spec["volumeName"]);
    // Capacity and access modes are the bound volume's, so only shown once bound.
    let (capacity, access) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (quantity(&status["capacity"]["storage"]), access_modes(&status["accessModes"]))
    };
    let class =
        match (&pvc["metadata"]["annotations"][BETA_STORAGE_CLASS], &spec["storageClassName"]) {
            (Value::String(class), _) | (_, Value::String(class)) => class.as_str(),
            _ => "",
        };
    cells![
        text(&pvc["metadata"]["name"]),
        phase,
        volume,
        capacity,
        access,
        class,
        unset_or(&spec["volumeAttributesClassName"]),
        age(pvc, now),
        unset_or(&spec["volumeMode"])
    ]
}

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// `GetAccessModesAsString`: deduplicated, always in the order RWO, ROX, RWX, RWOP.
fn access_modes(modes: &Value) -> String {
    let modes: Vec<&str> = array(modes).iter().map(text).collect();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.contains(mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

fn storage_class_cells(sc: &Value, now: i64) -> Vec<Value> {
    let annotations = &sc["metadata"]["annotations"];
    let mut name = text(&sc["metadata"]["name"]).to_owned();
    if text(&annotations["storageclass.kubernetes.io/is-default-class"]) == "true"
        || text(&annotations["storageclass.beta.kubernetes.io/is-default-class"]) == "true"
    {
        name.push_str(" (default)");
    }
    let reclaim_policy = match text(&sc["reclaimPolicy"]) {
        "" => "Delete",
        policy => policy,
    };
    let binding_mode = match text(&sc["volumeBindingMode"]) {
        "" => "Immediate",
        mode => mode,
    };
    cells![
        name,
        text(&sc["provisioner"]),
        reclaim_policy,
        binding_mode,
        sc["allowVolumeExpansion"].as_bool().unwrap_or(false),
        age(sc, now)
    ]
}

// === impl Event ===

fn event_cells(api: EventApi, event: &Value, now: i64) -> Vec<Value> {
    let field = |core: &str, events_v1: &str| match api {
        EventApi::Core => &event[core],
        EventApi::EventsV1 => &event[events_v1],
    };
    let involved = field("involvedObject", "regarding");
    let source = field("source", "deprecatedSource");
    // core/v1 serialises ReportingController as `reportingComponent`.
    let reporting_controller = text(field("reportingComponent", "reportingController"));
    let reporting_instance = text(&event["reportingInstance"]);

    let first_seen = match timestamp(field("firstTimestamp", "deprecatedFirstTimestamp")) {
        None => since(timestamp(&event["eventTime"]), now),
        first => since(first, now),
    };
    let mut last_seen = match timestamp(field("lastTimestamp", "deprecatedLastTimestamp")) {
        None => first_seen.clone(),
        last => since(last, now),
    };
    let mut count = int(field("count", "deprecatedCount"));
    let series = &event["series"];
    if series.is_object() {
        last_seen = since(timestamp(&series["lastObservedTime"]), now);
        count = int(&series["count"]);
    } else if count == 0 {
        // Singleton events don't have a count set in the new API.
        count = 1;
    }

    let kind = text(&involved["kind"]).to_lowercase();
    let object = match text(&involved["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = first_non_empty(text(&source["component"]), reporting_controller);
    let instance = first_non_empty(text(&source["host"]), reporting_instance);
    let source =
        if instance.is_empty() { component.to_owned() } else { format!("{component}, {instance}") };

    cells![
        last_seen,
        text(&event["type"]),
        text(&event["reason"]),
        object,
        text(&involved["fieldPath"]),
        source,
        text(field("message", "note")).trim(),
        first_seen,
        count,
        text(&event["metadata"]["name"])
    ]
}

fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

// === impl Node ===

fn node_cells(node: &Value, now: i64) -> Vec<Value> {
    let status = &node["status"];
    // Only the Ready condition counts (`NodeAllConditions`); the last one of that type wins.
    let mut conditions: Vec<String> =
        match array(&status["conditions"]).iter().rev().find(|c| text(&c["type"]) == "Ready") {
            Some(c) if text(&c["status"]) == "True" => vec!["Ready".to_owned()],
            Some(_) => vec!["NotReady".to_owned()],
            None => vec!["Unknown".to_owned()],
        };
    if node["spec"]["unschedulable"].as_bool() == Some(true) {
        conditions.push("SchedulingDisabled".to_owned());
    }

    let mut roles = BTreeSet::new();
    if let Value::Object(labels) = &node["metadata"]["labels"] {
        for (key, value) in labels {
            if let Some(role) = key.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_owned());
                }
            } else if key == "kubernetes.io/role" && !text(value).is_empty() {
                roles.insert(text(value).to_owned());
            }
        }
    }
    let roles = if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    };

    let address = |type_: &str| {
        array(&status["addresses"])
            .iter()
            .find(|a| text(&a["type"]) == type_)
            .map_or("<none>", |a| text(&a["address"]))
    };
    let info = &status["nodeInfo"];
    fn unknown_or(v: &Value) -> &str {
        match text(v) {
            "" => "<unknown>",
            s => s,
        }
    }
    cells![
        text(&node["metadata"]["name"]),
        conditions.join(","),
        roles,
        age(node, now),
        text(&info["kubeletVersion"]),
        address("InternalIP"),
        address("ExternalIP"),
        unknown_or(&info["osImage"]),
        unknown_or(&info["kernelVersion"]),
        unknown_or(&info["containerRuntimeVersion"])
    ]
}

// === impl ControllerRevision ===

/// `kind.group/name` of the controlling owner (`statefulset.apps/web`), or `<none>`.
fn controller_name(revision: &Value) -> String {
    let Some(owner) = array(&revision["metadata"]["ownerReferences"])
        .iter()
        .find(|r| r["controller"].as_bool() == Some(true))
    else {
        return "<none>".to_owned();
    };
    let api_version = text(&owner["apiVersion"]);
    let group = api_version.split_once('/').map_or("", |(group, _)| group);
    let kind = text(&owner["kind"]);
    let name = text(&owner["name"]);
    match (kind, group) {
        ("", "") => name.to_owned(),
        (kind, "") => format!("{}/{name}", kind.to_lowercase()),
        (kind, group) => format!("{}.{}/{name}", kind.to_lowercase(), group.to_lowercase()),
    }
}

/// `printCSIDriver`: unset booleans as the driver behaves without them (attach required), the
/// token audiences or `<unset>`, the lifecycle modes or `<none>`.
fn csi_driver_cells(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let flag = |field: &str, unset: bool| spec[field].as_bool().unwrap_or(unset);
    let requests = array(&spec["tokenRequests"]);
    let token_requests = if requests.is_empty() {
        "<unset>".to_owned()
    } else {
        requests.iter().map(|r| text(&r["audience"])).collect::<Vec<_>>().join(",")
    };
    let modes: Vec<&str> = array(&spec["volumeLifecycleModes"]).iter().map(text).collect();
    let modes = if modes.is_empty() { "<none>".to_owned() } else { modes.join(",") };
    cells![
        text(&o["metadata"]["name"]),
        flag("attachRequired", true),
        flag("podInfoOnMount", false),
        flag("storageCapacity", false),
        token_requests,
        flag("requiresRepublish", false),
        modes,
        age(o, now)
    ]
}

// === Shared formatting ===

/// `layoutContainerCells`: container names and images, each comma-joined.
fn container_cells(containers: &Value) -> (String, String) {
    let containers = array(containers);
    let names: Vec<&str> = containers.iter().map(|c| text(&c["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| text(&c["image"])).collect();
    (names.join(","), images.join(","))
}

/// `labels.FormatLabels`: `k=v` sorted by key and comma-joined, or `<none>`.
fn format_labels(labels: &Value) -> String {
    let mut pairs: Vec<(&str, &str)> = match labels {
        Value::Object(map) => map.iter().map(|(k, v)| (k.as_str(), text(v))).collect(),
        _ => Vec::new(),
    };
    if pairs.is_empty() {
        return "<none>".to_owned();
    }
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// `metav1.FormatLabelSelector`: [`label_selector`], `<none>` when it selects everything,
/// `<error>` when it is invalid.
fn format_label_selector(selector: &Value) -> String {
    match label_selector(selector) {
        Some(s) if s.is_empty() => "<none>".to_owned(),
        Some(s) => s,
        None => "<error>".to_owned(),
    }
}

/// `LabelSelectorAsSelector(selector).String()`: requirements sorted by key, `k=v`,
/// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-joined; empty for a nil or empty selector;
/// `None` for what `LabelSelectorAsSelector` rejects (an unknown operator, `In`/`NotIn` without
/// values, `Exists`/`DoesNotExist` with values).
fn label_selector(selector: &Value) -> Option<String> {
    let mut requirements: Vec<(&str, String)> = Vec::new();
    if let Value::Object(labels) = &selector["matchLabels"] {
        for (key, value) in labels {
            requirements.push((key, format!("{key}={}", text(value))));
        }
    }
    for expression in array(&selector["matchExpressions"]) {
        let key = text(&expression["key"]);
        let mut values: Vec<&str> = array(&expression["values"]).iter().map(text).collect();
        values.sort_unstable();
        let requirement = match (text(&expression["operator"]), values.is_empty()) {
            ("In", false) => format!("{key} in ({})", values.join(",")),
            ("NotIn", false) => format!("{key} notin ({})", values.join(",")),
            ("Exists", true) => key.to_owned(),
            ("DoesNotExist", true) => format!("!{key}"),
            _ => return None,
        };
        requirements.push((key, requirement));
    }
    requirements.sort_by(|a, b| a.0.cmp(b.0));
    Some(requirements.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join(","))
}

/// DATA of a Secret: its keys, counting `stringData` as the v1 → internal conversion merges it
/// into `data` (berth may store it unmerged; upstream never does).
fn secret_keys(secret: &Value) -> i64 {
    let keys: BTreeSet<&String> = [&secret["data"], &secret["stringData"]]
        .into_iter()
        .filter_map(Value::as_object)
        .flat_map(Map::keys)
        .collect();
    i64::try_from(keys.len()).unwrap_or(i64::MAX)
}

// === JSON access ===

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// An IntOrString as `intstr.IntOrString.String()` prints it; `N/A` when unset.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "N/A".to_owned(),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The number of entries of a map or list; 0 when absent.
fn len(v: &Value) -> i64 {
    let n = match v {
        Value::Object(map) => map.len(),
        Value::Array(list) => list.len(),
        _ => 0,
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

/// An optional string field, `<unset>` when absent (a nil pointer upstream).
fn unset_or(v: &Value) -> &str {
    v.as_str().unwrap_or("<unset>")
}

fn deleting(o: &Value) -> bool {
    !o["metadata"]["deletionTimestamp"].is_null()
}

// === Time ===

/// AGE: `HumanDuration(now - creationTimestamp)`, `<unknown>` without a timestamp.
/// `rbac.SubjectsStrings`, each list joined with `, `: users, groups and service accounts
/// (`namespace/name`).
fn subjects_strings(subjects: &Value) -> (String, String, String) {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in subjects.as_array().into_iter().flatten() {
        let name = text(&subject["name"]);
        match text(&subject["kind"]) {
            "ServiceAccount" => accounts.push(format!("{}/{name}", text(&subject["namespace"]))),
            "User" => users.push(name.to_owned()),
            "Group" => groups.push(name.to_owned()),
            _ => {}
        }
    }
    (users.join(", "), groups.join(", "), accounts.join(", "))
}

fn age(o: &Value, now: i64) -> String {
    since(timestamp(&o["metadata"]["creationTimestamp"]), now)
}

/// `translateTimestampSince`.
fn since(time: Option<i64>, now: i64) -> String {
    match time {
        Some(time) => human_duration(now - time),
        None => "<unknown>".to_owned(),
    }
}

/// An RFC 3339 timestamp field in Unix seconds (fraction dropped); `None` when absent,
/// unparsable or Go's zero time (which `IsZero` treats as unset).
fn timestamp(v: &Value) -> Option<i64> {
    metatime::unix_seconds(v.as_str()?).filter(|&t| t != metatime::ZERO_UNIX)
}

// === Quantity ===

/// A `resource.Quantity` field as upstream prints it (`Quantity.String()`, the canonical form:
/// `1024Mi` → `1Gi`, `1000M` → `1G`, `0.5` → `500m`); `0` when absent, as a zero Quantity.
/// A string this parser does not understand is printed as stored.
fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => crate::quantity::canonical(s).unwrap_or_else(|| s.clone()),
        Value::Number(n) => {
            crate::quantity::canonical(&n.to_string()).unwrap_or_else(|| n.to_string())
        }
        _ => "0".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    //! Golden tests: realistic objects (the StatefulSet tutorial's `web`, `nginx`, `www-web-0`,
    //! a local-path StorageClass, a node, kube-system workloads) rendered from the wire
    //! `Table` exactly as `kubectl get` (and `-o wide`) prints it on Kubernetes v1.33.

    use serde_json::{Value, json};

    use super::{IncludeObject, cells, column_definitions, human_duration, table};
    use crate::kinds::{self, ResourceType};

    /// 2026-11-25T10:00:00Z, the clock of every test.
    const NOW: i64 = 1_795_600_800;

    fn resource(group: &str, plural: &str) -> &'static ResourceType {
        kinds::find(group, "v1", plural).expect("a served resource")
    }

    /// Renders the wire `Table` as kubectl's table printer does: upper-cased headers, cells
    /// printed as `%v`, columns aligned by Go's tabwriter (padding 3), priority-1 columns only
    /// with `-o wide`.
    fn kubectl_get(table: &Value, wide: bool) -> String {
        let columns = table["columnDefinitions"].as_array().unwrap();
        let shown: Vec<usize> = (0..columns.len())
            .filter(|&i| wide || columns[i]["priority"].as_i64() == Some(0))
            .collect();
        let mut lines = vec![
            shown
                .iter()
                .map(|&i| columns[i]["name"].as_str().unwrap().to_uppercase())
                .collect::<Vec<_>>(),
        ];
        for row in table["rows"].as_array().unwrap() {
            let cells = row["cells"].as_array().unwrap();
            // A cell per column at least: `printIPAddress` adds an age beyond its columns,
            // which kubectl skips (kubernetes#66379).
            assert!(cells.len() >= columns.len(), "one cell per column: {row}");
            lines.push(
                shown
                    .iter()
                    .map(|&i| match &cells[i] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..shown.len())
            .map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0) + 3)
            .collect();
        let mut out = String::new();
        for line in &lines {
            for (c, cell) in line.iter().enumerate() {
                out.push_str(cell);
                if c + 1 < line.len() {
                    out.push_str(&" ".repeat(widths[c] - cell.chars().count()));
                }
            }
            out.push('\n');
        }
        out
    }

    /// Checks `kubectl get <plural>` (and `-o wide` when `expect_wide` is given) over `objects`.
    fn check(
        group: &str,
        plural: &str,
        objects: &[Value],
        expect: &str,
        expect_wide: Option<&str>,
    ) {
        let table =
            table(resource(group, plural), objects.to_vec(), "120", IncludeObject::Metadata, NOW);
        assert_eq!(kubectl_get(&table, false), expect.trim_start_matches('\n'), "{plural}");
        if let Some(expect_wide) = expect_wide {
            assert_eq!(kubectl_get(&table, true), expect_wide.trim_start_matches('\n'), "{plural}");
        }
    }

    fn meta(name: &str, namespace: &str, created: &str) -> Value {
        json!({"name": name, "namespace": namespace, "uid": format!("uid-{name}"),
               "resourceVersion": "100", "creationTimestamp": created, "labels": {"app": "nginx"}})
    }

    #[test]
    fn human_duration_thresholds() {
        let s = 1;
        let (m, h, d, y) = (60 * s, 3600 * s, 86_400 * s, 365 * 86_400 * s);
        let cases = [
            (-2 * s, "<invalid>"),
            (-s, "0s"),
            (0, "0s"),
            (5 * s, "5s"),
            (2 * m - s, "119s"),
            (2 * m, "2m"),
            (2 * m + 17 * s, "2m17s"),
            (10 * m - s, "9m59s"),
            (10 * m, "10m"),
            (10 * m + 59 * s, "10m"),
            (3 * h - s, "179m"),
            (3 * h, "3h"),
            (3 * h + 4 * m + 59 * s, "3h4m"),
            (8 * h - s, "7h59m"),
            (8 * h, "8h"),
            (48 * h - s, "47h"),
            (2 * d, "2d"),
            (2 * d + 3 * h, "2d3h"),
            (8 * d - s, "7d23h"),
            (8 * d, "8d"),
            (2 * y - s, "729d"),
            (2 * y, "2y"),
            (2 * y + 100 * d, "2y100d"),
            (8 * y - s, "7y364d"),
            (8 * y, "8y"),
            (10 * y + 100 * d, "10y"),
        ];
        for (seconds, expect) in cases {
            assert_eq!(human_duration(seconds), expect, "{seconds}s");
        }
    }

    #[test]
    fn services() {
        let nginx = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": meta("nginx", "statefulset01", "2026-11-25T09:59:48Z"),
            "spec": {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"],
                     "ports": [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": 80}],
                     "selector": {"app": "nginx"}},
        });
        let node_port = json!({
            "metadata": meta("web-np", "statefulset01", "2026-11-25T07:00:00Z"),
            "spec": {"type": "NodePort", "clusterIP": "10.96.14.2", "clusterIPs": ["10.96.14.2"],
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                               {"port": 53, "nodePort": 30053, "protocol": "UDP"}],
                     "selector": {"tier": "web", "app": "nginx"}},
        });
        let load_balancer = json!({
            "metadata": meta("lb", "statefulset01", "2026-11-25T09:00:00Z"),
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20",
                     "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}},
        });
        let external_name = json!({
            "metadata": meta("db", "statefulset01", "2026-11-25T09:00:00Z"),
            "spec": {"type": "ExternalName", "externalName": "db.example.com"},
        });
        check(
            "",
            "services",
            &[nginx, node_port, load_balancer, external_name],
            "
NAME     TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)                     AGE
nginx    ClusterIP      None         <none>           80/TCP                      12s
web-np   NodePort       10.96.14.2   <none>           80:30080/TCP,53:30053/UDP   3h
lb       LoadBalancer   10.96.0.20   <pending>        443:31443/TCP               60m
db       ExternalName   <none>       db.example.com   <none>                      60m
",
            Some(
                "
NAME     TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)                     AGE   SELECTOR
nginx    ClusterIP      None         <none>           80/TCP                      12s   app=nginx
web-np   NodePort       10.96.14.2   <none>           80:30080/TCP,53:30053/UDP   3h    app=nginx,tier=web
lb       LoadBalancer   10.96.0.20   <pending>        443:31443/TCP               60m   <none>
db       ExternalName   <none>       db.example.com   <none>                      60m   <none>
",
            ),
        );
    }

    #[test]
    fn statefulsets_and_controller_revisions() {
        let web = json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": meta("web", "statefulset01", "2026-11-25T09:59:23Z"),
            "spec": {"replicas": 3, "serviceName": "nginx",
                     "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx"}},
                                  "spec": {"containers": [{"name": "nginx",
                                      "image": "registry.k8s.io/nginx-slim:0.24"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2},
        });
        check(
            "apps",
            "statefulsets",
            &[web],
            "
NAME   READY   AGE
web    2/3     37s
",
            Some(
                "
NAME   READY   AGE   CONTAINERS   IMAGES
web    2/3     37s   nginx        registry.k8s.io/nginx-slim:0.24
",
            ),
        );
        let mut revision_meta = meta("web-7b6c8f9d5", "statefulset01", "2026-11-25T09:59:23Z");
        revision_meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "StatefulSet",
            "name": "web", "uid": "uid-web", "controller": true}]);
        let revision = json!({"metadata": revision_meta, "revision": 1});
        let orphan = json!({"metadata": meta("orphan-1", "statefulset01", "2026-11-25T09:00:00Z"),
                            "revision": 3});
        check(
            "apps",
            "controllerrevisions",
            &[revision, orphan],
            "
NAME            CONTROLLER             REVISION   AGE
web-7b6c8f9d5   statefulset.apps/web   1          37s
orphan-1        <none>                 3          60m
",
            None,
        );
    }

    #[test]
    fn pods_of_the_statefulset() {
        let web_0 = json!({
            "metadata": meta("web-0", "statefulset01", "2026-11-25T09:59:23Z"),
            "spec": {"nodeName": "node-1", "containers": [{"name": "nginx", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.10",
                "podIPs": [{"ip": "10.244.0.10"}],
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0,
                           "started": true,
                               "state": {"running": {"startedAt": "2026-11-25T09:59:30Z"}}}]},
        });
        let web_1 = json!({
            "metadata": meta("web-1", "statefulset01", "2026-11-25T09:59:50Z"),
            "spec": {"nodeName": "node-1", "containers": [{"name": "nginx", "image": "nginx"}]},
            "status": {"phase": "Pending",
                       "containerStatuses": [{"name": "nginx", "ready": false, "restartCount": 0,
                           "state": {"waiting": {"reason": "ContainerCreating"}}}]},
        });
        check(
            "",
            "pods",
            &[web_0, web_1],
            "
NAME    READY   STATUS              RESTARTS   AGE
web-0   1/1     Running             0          37s
web-1   0/1     ContainerCreating   0          10s
",
            Some(
                "
NAME    READY   STATUS              RESTARTS   AGE   IP            NODE     NOMINATED NODE   READINESS GATES
web-0   1/1     Running             0          37s   10.244.0.10   node-1   <none>           <none>
web-1   0/1     ContainerCreating   0          10s   <none>        node-1   <none>           <none>
",
            ),
        );
    }

    /// A pod with one container `app` (and `init` / a sidecar where a case adds them).
    fn pod(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "app", "image": "busybox"}]);
        }
        json!({"metadata": meta("p", "default", "2026-11-25T09:50:00Z"), "spec": spec,
               "status": status})
    }

    fn running(ready: bool) -> Value {
        json!({"name": "app", "ready": ready, "restartCount": 0, "started": true,
               "state": {"running": {"startedAt": "2026-11-25T09:50:05Z"}}})
    }

    #[test]
    fn pod_status_rules() {
        let init = json!({"initContainers": [{"name": "init", "image": "busybox"}]});
        let sidecar = json!({"initContainers": [{"name": "proxy", "image": "envoy",
            "restartPolicy": "Always"}]});
        let two =
            json!({"containers": [{"name": "app", "image": "a"}, {"name": "log", "image": "b"}]});
        let cases: Vec<(&str, Value, [&str; 3])> = vec![
            (
                "pending, no status yet",
                pod(json!({}), json!({"phase": "Pending"})),
                ["0/1", "Pending", "0"],
            ),
            ("no phase at all", pod(json!({}), json!({})), ["0/1", "", "0"]),
            (
                "scheduling gated",
                pod(
                    json!({}),
                    json!({"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
                ),
                ["0/1", "SchedulingGated", "0"],
            ),
            (
                "creating",
                pod(
                    json!({}),
                    json!({"phase": "Pending", "containerStatuses": [{"name": "app",
                    "ready": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
                ),
                ["0/1", "ContainerCreating", "0"],
            ),
            (
                "running and ready",
                pod(
                    json!({}),
                    json!({"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [running(true)]}),
                ),
                ["1/1", "Running", "0"],
            ),
            (
                "running, not ready",
                pod(
                    json!({}),
                    json!({"phase": "Running",
                "containerStatuses": [running(false)]}),
                ),
                ["0/1", "Running", "0"],
            ),
            (
                "crash loop, restarted 5m ago",
                pod(
                    json!({}),
                    json!({"phase": "Running", "containerStatuses": [{"name": "app",
                    "ready": false, "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                        "finishedAt": "2026-11-25T09:55:00Z"}}}]}),
                ),
                ["0/1", "CrashLoopBackOff", "2 (5m ago)"],
            ),
            (
                "restarted, running again",
                pod(
                    json!({}),
                    json!({"phase": "Running", "containerStatuses": [{"name": "app",
                    "ready": true, "restartCount": 1, "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                        "finishedAt": "2026-11-25T09:59:15Z"}}}]}),
                ),
                ["1/1", "Running", "1 (45s ago)"],
            ),
            (
                "completed",
                pod(
                    json!({}),
                    json!({"phase": "Succeeded", "containerStatuses": [{"name": "app",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
                ),
                ["0/1", "Completed", "0"],
            ),
            (
                "failed with a reason",
                pod(
                    json!({}),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "app",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                ),
                ["0/1", "Error", "0"],
            ),
            (
                "exit code without a reason",
                pod(
                    json!({}),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "app",
                    "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 137}}}]}),
                ),
                ["0/1", "ExitCode:137", "0"],
            ),
            (
                "signal without a reason",
                pod(
                    json!({}),
                    json!({"phase": "Failed", "containerStatuses": [{"name": "app",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
                ),
                ["0/1", "Signal:9", "0"],
            ),
            (
                "evicted",
                pod(json!({}), json!({"phase": "Failed", "reason": "Evicted"})),
                ["0/1", "Evicted", "0"],
            ),
            (
                "one container completed, one running and ready",
                pod(
                    two.clone(),
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [running(true), {"name": "log", "ready": false,
                        "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                            "reason": "Completed"}}}]}),
                ),
                ["1/2", "Running", "0"],
            ),
            (
                "one container completed, one running, pod not ready",
                pod(
                    two,
                    json!({"phase": "Running",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [running(true), {"name": "log", "ready": false,
                        "restartCount": 0, "state": {"terminated": {"exitCode": 0,
                            "reason": "Completed"}}}]}),
                ),
                ["1/2", "NotReady", "0"],
            ),
            (
                "init container running",
                pod(
                    init.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 0,
                        "state": {"running": {}}}],
                    "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ["0/1", "Init:0/1", "0"],
            ),
            (
                "init container waiting to initialise",
                pod(
                    init.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}}}]}),
                ),
                ["0/1", "Init:0/1", "0"],
            ),
            (
                "init container crash loop",
                pod(
                    init.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 3,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                            "finishedAt": "2026-11-25T09:58:00Z"}}}]}),
                ),
                ["0/1", "Init:CrashLoopBackOff", "3 (2m ago)"],
            ),
            (
                "init container failed",
                pod(
                    init.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}),
                ),
                ["0/1", "Init:Error", "0"],
            ),
            (
                "init container exit code",
                pod(
                    init.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 2}}}]}),
                ),
                ["0/1", "Init:ExitCode:2", "0"],
            ),
            (
                "init container signal",
                pod(
                    init.clone(),
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "init", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 143, "signal": 15}}}]}),
                ),
                ["0/1", "Init:Signal:15", "0"],
            ),
            (
                "init container done, main running",
                pod(
                    init,
                    json!({"phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [{"name": "init", "ready": true, "restartCount": 0,
                        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
                    "containerStatuses": [running(true)]}),
                ),
                ["1/1", "Running", "0"],
            ),
            (
                "sidecar started and ready, main running",
                pod(
                    sidecar.clone(),
                    json!({"phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [{"name": "proxy", "ready": true, "restartCount": 1,
                        "started": true, "state": {"running": {}},
                        "lastState": {"terminated": {"exitCode": 1,
                            "finishedAt": "2026-11-25T09:59:00Z"}}}],
                    "containerStatuses": [running(true)]}),
                ),
                ["2/2", "Running", "1 (60s ago)"],
            ),
            (
                "sidecar not started yet",
                pod(
                    sidecar,
                    json!({"phase": "Pending",
                    "initContainerStatuses": [{"name": "proxy", "ready": false, "restartCount": 0,
                        "started": false, "state": {"running": {}}}]}),
                ),
                ["0/2", "Init:0/1", "0"],
            ),
        ];
        let pods = resource("", "pods");
        for (case, pod, [ready, status, restarts]) in cases {
            let cells = cells(pods, &pod, NOW);
            assert_eq!(cells[1..4], [json!(ready), json!(status), json!(restarts)], "{case}");
        }

        // Deletion overrides everything but a terminal phase; a lost node makes it Unknown.
        let mut terminating = pod(
            json!({}),
            json!({"phase": "Running",
            "containerStatuses": [running(true)]}),
        );
        terminating["metadata"]["deletionTimestamp"] = json!("2026-11-25T09:59:59Z");
        assert_eq!(cells(pods, &terminating, NOW)[2], "Terminating");
        terminating["status"]["reason"] = json!("NodeLost");
        assert_eq!(cells(pods, &terminating, NOW)[2], "Unknown");
        let mut deleted_done = pod(
            json!({}),
            json!({"phase": "Succeeded", "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 0,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
        );
        deleted_done["metadata"]["deletionTimestamp"] = json!("2026-11-25T09:59:59Z");
        assert_eq!(cells(pods, &deleted_done, NOW)[2], "Completed");
    }

    #[test]
    fn pod_wide_columns() {
        let gated = pod(
            json!({"nodeName": "node-1", "readinessGates": [
                {"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}),
            json!({"phase": "Running", "podIP": "10.244.0.12", "nominatedNodeName": "node-2",
                   "conditions": [{"type": "example.com/lb", "status": "True"},
                                  {"type": "example.com/dns", "status": "False"}],
                   "containerStatuses": [running(true)]}),
        );
        let cells = cells(resource("", "pods"), &gated, NOW);
        assert_eq!(
            cells[5..],
            [json!("10.244.0.12"), json!("node-1"), json!("node-2"), json!("1/2")]
        );
    }

    #[test]
    fn persistent_volume_claims_and_volumes() {
        let bound = json!({
            "metadata": meta("www-web-0", "statefulset01", "2026-11-25T09:59:23Z"),
            "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                     "storageClassName": "local-path", "volumeMode": "Filesystem",
                     "volumeName": "pvc-5f1c1a0e-8d6b-4a0e-9a5e-2c7f1b3d4e5f"},
            "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "1Gi"}},
        });
        let pending = json!({
            "metadata": meta("www-web-1", "statefulset01", "2026-11-25T09:59:50Z"),
            "spec": {"accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}},
                         "storageClassName": "local-path",
                     "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"},
        });
        let mut deleting = json!({
            "metadata": meta("old", "statefulset01", "2026-11-24T10:00:00Z"),
            "spec": {"accessModes": ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"],
                     "volumeName": "pv-old", "volumeAttributesClassName": "fast"},
            "status": {"phase": "Bound", "accessModes": ["ReadWriteMany", "ReadOnlyMany",
                "ReadWriteOncePod"],
                       "capacity": {"storage": "1024Mi"}},
        });
        deleting["metadata"]["deletionTimestamp"] = json!("2026-11-25T09:59:00Z");
        deleting["metadata"]["annotations"] =
            json!({"volume.beta.kubernetes.io/storage-class": "legacy"});
        check(
            "",
            "persistentvolumeclaims",
            &[bound.clone(), pending, deleting],
            "
NAME        STATUS        VOLUME                                     CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE
www-web-0   Bound         pvc-5f1c1a0e-8d6b-4a0e-9a5e-2c7f1b3d4e5f   1Gi        RWO            local-path     <unset>                 37s
www-web-1   Pending                                                                            local-path     <unset>                 10s
old         Terminating   pv-old                                     1Gi        ROX,RWX,RWOP   legacy         fast                    24h
",
            Some(
                "
NAME        STATUS        VOLUME                                     CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE   VOLUMEMODE
www-web-0   Bound         pvc-5f1c1a0e-8d6b-4a0e-9a5e-2c7f1b3d4e5f   1Gi        RWO            local-path     <unset>                 37s   Filesystem
www-web-1   Pending                                                                            local-path     <unset>                 10s   Filesystem
old         Terminating   pv-old                                     1Gi        ROX,RWX,RWOP   legacy         fast                    24h   <unset>
",
            ),
        );

        let pv = json!({
            "metadata": {"name": "pvc-5f1c1a0e-8d6b-4a0e-9a5e-2c7f1b3d4e5f",
                         "creationTimestamp": "2026-11-25T09:59:30Z"},
            "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                     "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "statefulset01",
                                  "name": "www-web-0"},
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
                     "volumeMode": "Filesystem", "hostPath": {"path": "/var/lib/berth/pv"}},
            "status": {"phase": "Bound"},
        });
        let failed = json!({
            "metadata": {"name": "pv-manual", "creationTimestamp": "2026-11-23T07:00:00Z"},
            "spec": {"accessModes": ["ReadWriteMany"], "capacity": {"storage": "500Mi"},
                     "persistentVolumeReclaimPolicy": "Recycle"},
            "status": {"phase": "Failed", "reason": "VolumeFailedRecycle"},
        });
        check(
            "",
            "persistentvolumes",
            &[pv, failed],
            "
NAME                                       CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM                     STORAGECLASS   VOLUMEATTRIBUTESCLASS   REASON                AGE
pvc-5f1c1a0e-8d6b-4a0e-9a5e-2c7f1b3d4e5f   1Gi        RWO            Delete           Bound    statefulset01/www-web-0   local-path     <unset>                                       30s
pv-manual                                  500Mi      RWX            Recycle          Failed                                            <unset>                 VolumeFailedRecycle   2d3h
",
            Some(
                "
NAME                                       CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM                     STORAGECLASS   VOLUMEATTRIBUTESCLASS   REASON                AGE    VOLUMEMODE
pvc-5f1c1a0e-8d6b-4a0e-9a5e-2c7f1b3d4e5f   1Gi        RWO            Delete           Bound    statefulset01/www-web-0   local-path     <unset>                                       30s    Filesystem
pv-manual                                  500Mi      RWX            Recycle          Failed                                            <unset>                 VolumeFailedRecycle   2d3h   <unset>
",
            ),
        );
    }

    #[test]
    fn quantities_print_canonically() {
        let cases = [
            (json!("1Gi"), "1Gi"),
            (json!("1024Mi"), "1Gi"),
            (json!("1536Mi"), "1536Mi"),
            (json!("1.5Gi"), "1536Mi"),
            (json!("0.5Ki"), "512"),
            (json!("100Ki"), "100Ki"),
            (json!("1000M"), "1G"),
            (json!("1500M"), "1500M"),
            (json!("2000"), "2k"),
            (json!("0.5"), "500m"),
            (json!("1e3"), "1e3"),
            (json!("0"), "0"),
            (json!(5_000_000_000_i64), "5G"),
            (Value::Null, "0"),
            (json!("not-a-quantity"), "not-a-quantity"),
        ];
        let pvs = resource("", "persistentvolumes");
        for (storage, expect) in cases {
            let pv =
                json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": storage}}});
            assert_eq!(cells(pvs, &pv, NOW)[1], expect, "{storage}");
        }
    }

    #[test]
    fn storage_classes() {
        let local_path = json!({
            "metadata": {"name": "local-path", "creationTimestamp": "2026-11-20T10:00:00Z",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        });
        let fast = json!({
            "metadata": {"name": "fast", "creationTimestamp": "2026-11-25T09:00:00Z",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}},
            "provisioner": "example.com/fast", "allowVolumeExpansion": true,
        });
        check(
            "storage.k8s.io",
            "storageclasses",
            &[local_path, fast],
            "
NAME                   PROVISIONER             RECLAIMPOLICY   VOLUMEBINDINGMODE      ALLOWVOLUMEEXPANSION   AGE
local-path (default)   rancher.io/local-path   Delete          WaitForFirstConsumer   false                  5d
fast                   example.com/fast        Delete          Immediate              true                   60m
",
            None,
        );
    }

    #[test]
    fn namespaces_config_maps_secrets_service_accounts() {
        let ns = json!({"metadata": {"name": "statefulset01",
            "creationTimestamp": "2026-11-25T09:58:00Z"},
                        "status": {"phase": "Active"}});
        let terminating = json!({"metadata": {"name": "old",
            "creationTimestamp": "2026-11-25T06:56:00Z"},
                                 "status": {"phase": "Terminating"}});
        check(
            "",
            "namespaces",
            &[ns, terminating],
            "
NAME            STATUS        AGE
statefulset01   Active        2m
old             Terminating   3h4m
",
            None,
        );
        let config_map = json!({"metadata": meta("kube-root-ca.crt", "statefulset01",
            "2026-11-25T09:58:00Z"),
                                "data": {"ca.crt": "-----BEGIN CERTIFICATE-----"},
                                "binaryData": {"blob": "AAEC"}});
        check(
            "",
            "configmaps",
            &[config_map],
            "
NAME               DATA   AGE
kube-root-ca.crt   2      2m
",
            None,
        );
        let secret = json!({"metadata": meta("db-pass", "statefulset01", "2026-11-25T09:00:00Z"),
                            "type": "Opaque", "data": {"username": "YWRtaW4=",
                                "password": "cw=="},
                            "stringData": {"password": "new", "host": "db"}});
        let token = json!({"metadata": meta("sa-token", "statefulset01", "2026-11-25T09:00:00Z"),
                           "type": "kubernetes.io/service-account-token"});
        check(
            "",
            "secrets",
            &[secret, token],
            "
NAME       TYPE                                  DATA   AGE
db-pass    Opaque                                3      60m
sa-token   kubernetes.io/service-account-token   0      60m
",
            None,
        );
        let sa = json!({"metadata": meta("default", "statefulset01", "2026-11-25T09:58:00Z")});
        check(
            "",
            "serviceaccounts",
            &[sa],
            "
NAME      SECRETS   AGE
default   0         2m
",
            None,
        );
    }

    #[test]
    fn events_core_and_events_k8s_io() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-0.1879a2b3c4d5e6f7", "namespace": "statefulset01",
                         "creationTimestamp": "2026-11-25T09:59:23Z"},
            "involvedObject": {"kind": "Pod", "namespace": "statefulset01", "name": "web-0",
                               "fieldPath": "spec.containers{nginx}"},
            "reason": "Pulled", "message": "Container image \"nginx\" already present on machine\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-11-25T09:59:25Z", "lastTimestamp": "2026-11-25T09:59:48Z",
            "count": 2, "type": "Normal",
        });
        let scheduled = json!({
            "metadata": {"name": "web-0.1879a2b3c4d5e6f0", "namespace": "statefulset01",
                         "creationTimestamp": "2026-11-25T09:59:23Z"},
            "involvedObject": {"kind": "Pod", "namespace": "statefulset01", "name": "web-0"},
            "reason": "Scheduled", "message": "Successfully assigned statefulset01/web-0 to node-1",
            "source": {}, "eventTime": "2026-11-25T09:59:23.120000Z",
            "reportingComponent": "default-scheduler",
                "reportingInstance": "default-scheduler-node-1",
            "type": "Normal", "action": "Binding",
        });
        check(
            "",
            "events",
            &[core.clone(), scheduled.clone()],
            "
LAST SEEN   TYPE     REASON      OBJECT      MESSAGE
12s         Normal   Pulled      pod/web-0   Container image \"nginx\" already present on machine
37s         Normal   Scheduled   pod/web-0   Successfully assigned statefulset01/web-0 to node-1
",
            Some(
                "
LAST SEEN   TYPE     REASON      OBJECT      SUBOBJECT                SOURCE                                        MESSAGE                                               FIRST SEEN   COUNT   NAME
12s         Normal   Pulled      pod/web-0   spec.containers{nginx}   kubelet, node-1                               Container image \"nginx\" already present on machine    35s          2       web-0.1879a2b3c4d5e6f7
37s         Normal   Scheduled   pod/web-0                            default-scheduler, default-scheduler-node-1   Successfully assigned statefulset01/web-0 to node-1   37s          1       web-0.1879a2b3c4d5e6f0
",
            ),
        );
        // The same events as events.k8s.io/v1 serves them print the same.
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": core["metadata"], "regarding": core["involvedObject"],
            "reason": "Pulled", "note": core["message"], "type": "Normal",
            "deprecatedSource": core["source"], "deprecatedFirstTimestamp": core["firstTimestamp"],
            "deprecatedLastTimestamp": core["lastTimestamp"], "deprecatedCount": 2,
        });
        let series = json!({
            "metadata": scheduled["metadata"], "regarding": scheduled["involvedObject"],
            "reason": "BackOff", "note": "Back-off pulling image", "type": "Warning",
            "eventTime": "2026-11-25T09:50:00.000001Z", "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "series": {"count": 7, "lastObservedTime": "2026-11-25T09:59:55.500000Z"},
        });
        let events_v1 = resource("events.k8s.io", "events");
        assert_eq!(cells(events_v1, &v1, NOW), cells(resource("", "events"), &core, NOW));
        assert_eq!(
            cells(events_v1, &series, NOW),
            [
                "5s",
                "Warning",
                "BackOff",
                "pod/web-0",
                "",
                "kubelet, node-1",
                "Back-off pulling image",
                "10m",
                "7",
                "web-0.1879a2b3c4d5e6f0"
            ]
            .map(|s| if s == "7" { json!(7) } else { json!(s) })
        );
    }

    #[test]
    fn nodes() {
        let node = json!({
            "metadata": {"name": "node-1", "creationTimestamp": "2026-11-20T10:00:00Z",
                         "labels": {"kubernetes.io/hostname": "node-1",
                                    "node-role.kubernetes.io/control-plane": "",
                                    "node-role.kubernetes.io/": "", "kubernetes.io/role": "edge"}},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.1.10"},
                                     {"type": "Hostname", "address": "node-1"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0",
                           "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0-26-amd64",
                                    "containerRuntimeVersion": "containerd://2.0.0"}},
        });
        let cordoned = json!({
            "metadata": {"name": "node-2", "creationTimestamp": "2026-11-25T09:00:00Z"},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0"}},
        });
        let fresh = json!({"metadata": {"name": "node-3"},
            "status": {"nodeInfo": {"kubeletVersion": "v1.33.0"}}});
        check(
            "",
            "nodes",
            &[node, cordoned, fresh],
            "
NAME     STATUS                        ROLES                AGE         VERSION
node-1   Ready                         control-plane,edge   5d          v1.33.0
node-2   NotReady,SchedulingDisabled   <none>               60m         v1.33.0
node-3   Unknown                       <none>               <unknown>   v1.33.0
",
            Some(
                "
NAME     STATUS                        ROLES                AGE         VERSION   INTERNAL-IP    EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION   CONTAINER-RUNTIME
node-1   Ready                         control-plane,edge   5d          v1.33.0   192.168.1.10   <none>        Debian GNU/Linux 12 (bookworm)   6.1.0-26-amd64   containerd://2.0.0
node-2   NotReady,SchedulingDisabled   <none>               60m         v1.33.0   <none>         <none>        <unknown>                        <unknown>        <unknown>
node-3   Unknown                       <none>               <unknown>   v1.33.0   <none>         <none>        <unknown>                        <unknown>        <unknown>
",
            ),
        );
    }

    #[test]
    fn deployments_replica_sets_daemon_sets() {
        let template = json!({"metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {"containers": [{"name": "coredns",
                "image": "registry.k8s.io/coredns/coredns:v1.12.0"}]}});
        let deployment = json!({
            "metadata": meta("coredns", "kube-system", "2026-11-20T10:00:00Z"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "dns"]},
                                     {"key": "canary", "operator": "DoesNotExist"}]},
                     "template": template},
            "status": {"replicas": 2, "readyReplicas": 1, "updatedReplicas": 2,
                "availableReplicas": 1},
        });
        check(
            "apps",
            "deployments",
            &[deployment],
            "
NAME      READY   UP-TO-DATE   AVAILABLE   AGE
coredns   1/2     2            1           5d
",
            Some(
                "
NAME      READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES                                    SELECTOR
coredns   1/2     2            1           5d    coredns      registry.k8s.io/coredns/coredns:v1.12.0   !canary,k8s-app=kube-dns,tier in (dns,web)
",
            ),
        );
        let replica_set = json!({
            "metadata": meta("coredns-5d78c9869d", "kube-system", "2026-11-20T10:00:00Z"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"pod-template-hash": "5d78c9869d",
                                                                 "k8s-app": "kube-dns"}},
                     "template": template},
            "status": {"replicas": 2, "readyReplicas": 1},
        });
        let empty_selector = json!({
            "metadata": meta("bare", "kube-system", "2026-11-25T09:00:00Z"),
            "spec": {"replicas": 0, "selector": {}, "template": {"spec": {"containers": []}}},
            "status": {"replicas": 0},
        });
        check(
            "apps",
            "replicasets",
            &[replica_set, empty_selector],
            "
NAME                 DESIRED   CURRENT   READY   AGE
coredns-5d78c9869d   2         2         1       5d
bare                 0         0         0       60m
",
            Some(
                "
NAME                 DESIRED   CURRENT   READY   AGE   CONTAINERS   IMAGES                                    SELECTOR
coredns-5d78c9869d   2         2         1       5d    coredns      registry.k8s.io/coredns/coredns:v1.12.0   k8s-app=kube-dns,pod-template-hash=5d78c9869d
bare                 0         0         0       60m                                                          <none>
",
            ),
        );
        let daemon_set = json!({
            "metadata": meta("kube-proxy", "kube-system", "2026-11-20T10:00:00Z"),
            "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
                     "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                         "containers": [{"name": "kube-proxy",
                             "image": "registry.k8s.io/kube-proxy:v1.33.0"},
                                        {"name": "sidecar", "image": "busybox"}]}}},
            "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1,
                       "updatedNumberScheduled": 1, "numberAvailable": 1},
        });
        check(
            "apps",
            "daemonsets",
            &[daemon_set],
            "
NAME         DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR            AGE
kube-proxy   1         1         1       1            1           kubernetes.io/os=linux   5d
",
            Some(
                "
NAME         DESIRED   CURRENT   READY   UP-TO-DATE   AVAILABLE   NODE SELECTOR            AGE   CONTAINERS           IMAGES                                       SELECTOR
kube-proxy   1         1         1       1            1           kubernetes.io/os=linux   5d    kube-proxy,sidecar   registry.k8s.io/kube-proxy:v1.33.0,busybox   k8s-app=kube-proxy
",
            ),
        );
    }

    #[test]
    fn invalid_selectors() {
        let invalid = json!({"metadata": {"name": "x"}, "spec": {"selector": {"matchExpressions": [
            {"key": "tier", "operator": "In", "values": []}]}}});
        assert_eq!(cells(resource("apps", "deployments"), &invalid, NOW)[7], "<invalid>");
        assert_eq!(cells(resource("apps", "replicasets"), &invalid, NOW)[7], "<error>");
        let unknown = json!({"metadata": {"name": "x"}, "spec": {"selector": {"matchExpressions": [
            {"key": "tier", "operator": "Gt", "values": ["1"]}]}}});
        assert_eq!(cells(resource("apps", "daemonsets"), &unknown, NOW)[10], "<error>");
    }

    #[test]
    fn endpoints_endpoint_slices_leases() {
        let addresses = |ips: &[&str]| ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>();
        let nginx = json!({
            "metadata": meta("nginx", "statefulset01", "2026-11-25T09:59:48Z"),
            "subsets": [{"addresses": addresses(&["10.244.0.10", "10.244.0.11"]),
                         "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}],
        });
        let many = json!({
            "metadata": meta("many", "statefulset01", "2026-11-25T09:59:48Z"),
            "subsets": [{"addresses": addresses(&["10.0.0.1", "10.0.0.2"]),
                         "ports": [{"port": 80}, {"port": 443}]},
                        {"addresses": addresses(&["fd00::1"])}],
        });
        let empty = json!({"metadata": meta("empty", "statefulset01", "2026-11-25T09:59:48Z")});
        check(
            "",
            "endpoints",
            &[nginx, many, empty],
            "
NAME    ENDPOINTS                                          AGE
nginx   10.244.0.10:80,10.244.0.11:80                      12s
many    10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...   12s
empty   <none>                                             12s
",
            None,
        );
        let slice = json!({
            "metadata": meta("nginx-x7k2p", "statefulset01", "2026-11-25T09:59:48Z"),
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.0.10"], "conditions": {"ready": true}},
                          {"addresses": ["10.244.0.11"]}],
            "ports": [{"name": "web", "port": 80, "protocol": "TCP"}],
        });
        let wide = json!({
            "metadata": meta("wide-q9z", "statefulset01", "2026-11-25T09:59:48Z"),
            "addressType": "IPv6",
            "endpoints": [{"addresses": ["fd00::1"]}, {"addresses": ["fd00::2"]},
                          {"addresses": ["fd00::3"]}, {"addresses": ["fd00::4"]}],
            "ports": [{"port": 80}, {"name": "dns"}, {}, {"port": 9090}],
        });
        let bare = json!({"metadata": meta("bare", "statefulset01", "2026-11-25T09:59:48Z"),
                          "addressType": "IPv4"});
        check(
            "discovery.k8s.io",
            "endpointslices",
            &[slice, wide, bare],
            "
NAME          ADDRESSTYPE   PORTS                  ENDPOINTS                             AGE
nginx-x7k2p   IPv4          80                     10.244.0.10,10.244.0.11               12s
wide-q9z      IPv6          80,dns,* + 1 more...   fd00::1,fd00::2,fd00::3 + 1 more...   12s
bare          IPv4          <unset>                <unset>                               12s
",
            None,
        );
        let lease = json!({
            "metadata": meta("node-1", "kube-node-lease", "2026-11-20T10:00:00Z"),
            "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40},
        });
        let free =
            json!({"metadata": meta("free", "kube-system", "2026-11-25T09:00:00Z"), "spec": {}});
        check(
            "coordination.k8s.io",
            "leases",
            &[lease, free],
            "
NAME     HOLDER   AGE
node-1   node-1   5d
free              60m
",
            None,
        );
    }

    #[test]
    fn default_table_for_other_resources() {
        let binding = json!({"metadata": {"name": "web-0",
            "creationTimestamp": "2026-11-25T11:59:48.5+02:00"}});
        let no_timestamp = json!({"metadata": {"name": "x"}});
        check(
            "",
            "bindings",
            &[binding, no_timestamp],
            "
NAME    CREATED AT
web-0   2026-11-25T09:59:48Z
x       0001-01-01T00:00:00Z
",
            None,
        );
        let columns = column_definitions(resource("", "bindings"));
        assert_eq!(
            (columns[1].name, columns[1].type_, columns[1].format),
            ("Created At", "date", "")
        );
    }

    #[test]
    fn every_served_resource_has_one_cell_per_column() {
        let object =
            json!({"metadata": {"name": "n", "creationTimestamp": "2026-11-25T09:59:00Z"}});
        for resource in kinds::all() {
            let columns = column_definitions(resource);
            assert_eq!(
                columns[0].name == "Name",
                columns[0].format == "name",
                "{}",
                resource.plural
            );
            // `printIPAddress` alone adds a cell (the age) beyond its columns.
            let extra = usize::from(resource.kind == "IPAddress");
            assert_eq!(
                cells(resource, &object, NOW).len(),
                columns.len() + extra,
                "{}",
                resource.plural
            );
        }
    }

    #[test]
    fn wire_table_and_include_object() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "done", "namespace": "default", "resourceVersion": "7",
                         "creationTimestamp": "2026-11-25T09:59:00Z", "labels": {"app": "job"}},
            "spec": {"containers": [{"name": "app", "image": "busybox"}]},
            "status": {"phase": "Succeeded"},
        });
        let pods = resource("", "pods");
        let metadata = table(pods, vec![pod.clone()], "120", IncludeObject::Metadata, NOW);
        let columns: Vec<Value> = column_definitions(pods).iter().map(|c| c.to_json()).collect();
        assert_eq!(
            metadata,
            json!({
                "kind": "Table", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": "120"},
                "columnDefinitions": columns,
                "rows": [{
                    "cells": ["done", "0/1", "Succeeded", "0", "60s", "<none>", "<none>",
                        "<none>", "<none>"],
                    "conditions": [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                    "message": "The pod has completed successfully."}],
                    "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": pod["metadata"]},
                }],
            })
        );
        assert_eq!(
            metadata["columnDefinitions"][5],
            json!({"name": "IP", "type": "string", "format": "",
                   "description": "podIP address allocated to the pod.", "priority": 1})
        );
        assert_eq!(metadata["columnDefinitions"][0]["format"], "name");

        let none = table(pods, vec![pod.clone()], "", IncludeObject::None, NOW);
        assert_eq!(none["metadata"], json!({}));
        assert_eq!(none["rows"][0]["object"], Value::Null);

        let mut bare = pod.clone();
        bare.as_object_mut().unwrap().remove("kind");
        let object = table(pods, vec![bare], "120", IncludeObject::Object, NOW);
        assert_eq!(object["rows"][0]["object"], pod);

        let empty = table(pods, Vec::new(), "120", IncludeObject::Metadata, NOW);
        assert_eq!(empty["rows"], json!([]));

        assert_eq!(IncludeObject::from_query(None), Some(IncludeObject::Metadata));
        assert_eq!(IncludeObject::from_query(Some("")), Some(IncludeObject::Metadata));
        assert_eq!(IncludeObject::from_query(Some("Metadata")), Some(IncludeObject::Metadata));
        assert_eq!(IncludeObject::from_query(Some("None")), Some(IncludeObject::None));
        assert_eq!(IncludeObject::from_query(Some("Object")), Some(IncludeObject::Object));
        assert_eq!(IncludeObject::from_query(Some("object")), None);
    }

    #[test]
    fn jobs() {
        let template = json!({"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}});
        let selector = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}});
        let job = |name: &str, spec: Value, status: Value| {
            let mut spec = spec;
            spec["template"] = template.clone();
            spec["selector"] = selector.clone();
            json!({"metadata": meta(name, "default", "2026-11-25T09:00:00Z"), "spec": spec,
                "status": status})
        };
        let complete = job(
            "pi",
            json!({"completions": 1, "parallelism": 1}),
            json!({"succeeded": 1, "startTime": "2026-11-25T09:00:00Z",
                "completionTime": "2026-11-25T09:00:09Z",
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                               {"type": "Complete", "status": "True"}]}),
        );
        let running = job(
            "work",
            json!({"parallelism": 3}),
            json!({"active": 3, "startTime": "2026-11-25T09:58:00Z"}),
        );
        let failing = job(
            "flaky",
            json!({"completions": 5, "parallelism": 1}),
            json!({"succeeded": 2, "failed": 7, "startTime": "2026-11-25T09:00:00Z",
                "conditions": [{"type": "FailureTarget", "status": "True"}]}),
        );
        let suspended = job(
            "later",
            json!({"completions": 2, "parallelism": 1, "suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        );
        check(
            "batch",
            "jobs",
            &[complete, running, failing, suspended],
            "
NAME    STATUS          COMPLETIONS   DURATION   AGE
pi      Complete        1/1           9s         60m
work    Running         0/1 of 3      2m         60m
flaky   FailureTarget   2/5           60m        60m
later   Suspended       0/2                      60m
",
            Some(
                "
NAME    STATUS          COMPLETIONS   DURATION   AGE   CONTAINERS   IMAGES      SELECTOR
pi      Complete        1/1           9s         60m   pi           perl:5.34   batch.kubernetes.io/controller-uid=u
work    Running         0/1 of 3      2m         60m   pi           perl:5.34   batch.kubernetes.io/controller-uid=u
flaky   FailureTarget   2/5           60m        60m   pi           perl:5.34   batch.kubernetes.io/controller-uid=u
later   Suspended       0/2                      60m   pi           perl:5.34   batch.kubernetes.io/controller-uid=u
",
            ),
        );
    }

    #[test]
    fn cron_jobs() {
        let template = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "hello", "image": "busybox:1.28"}]}}}});
        let hello = json!({"metadata": meta("hello", "default", "2026-11-25T09:00:00Z"),
            "spec": {"schedule": "* * * * *", "suspend": false, "jobTemplate": template},
            "status": {"active": [{"kind": "Job", "name": "hello-29418960"}],
                "lastScheduleTime": "2026-11-25T09:59:00Z"}});
        let nightly = json!({"metadata": meta("nightly", "default", "2026-11-25T09:00:00Z"),
            "spec": {"schedule": "0 2 * * *", "timeZone": "Europe/Berlin", "suspend": true,
                "jobTemplate": template},
            "status": {}});
        check(
            "batch",
            "cronjobs",
            &[hello, nightly],
            "
NAME      SCHEDULE    TIMEZONE        SUSPEND   ACTIVE   LAST SCHEDULE   AGE
hello     * * * * *   <none>          False     1        60s             60m
nightly   0 2 * * *   Europe/Berlin   True      0        <none>          60m
",
            Some(
                "
NAME      SCHEDULE    TIMEZONE        SUSPEND   ACTIVE   LAST SCHEDULE   AGE   CONTAINERS   IMAGES         SELECTOR
hello     * * * * *   <none>          False     1        60s             60m   hello        busybox:1.28   <none>
nightly   0 2 * * *   Europe/Berlin   True      0        <none>          60m   hello        busybox:1.28   <none>
",
            ),
        );
    }

    #[test]
    fn resource_quotas() {
        let quota = json!({
            "metadata": meta("compute", "default", "2026-11-25T09:00:00Z"),
            "spec": {"hard": {"pods": "10"}},
            "status": {"hard": {"requests.cpu": "1", "pods": "10", "limits.memory": "2Gi",
                                "limits.cpu": "2", "count/deployments.apps": "3"},
                       "used": {"requests.cpu": "500m", "pods": "1", "limits.cpu": "1000m"}},
        });
        check(
            "",
            "resourcequotas",
            &[quota],
            "
NAME      REQUEST                                                         LIMIT                                   AGE
compute   count/deployments.apps: 0/3, pods: 1/10, requests.cpu: 500m/1   limits.cpu: 1/2, limits.memory: 0/2Gi   60m
",
            None,
        );
        // Before the controller fills the status, both cells are empty.
        let fresh = json!({"spec": {"hard": {"pods": "10"}}, "status": {}});
        assert_eq!(super::resource_quota_cells(&fresh), (String::new(), String::new()));
    }

    #[test]
    fn ingresses_and_ingress_classes() {
        let backend = json!({"service": {"name": "web", "port": {"number": 80}}});
        let rule = |host: &str| {
            json!({"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": backend}]}})
        };
        let simple = json!({
            "metadata": meta("simple", "default", "2026-11-25T09:00:00Z"),
            "spec": {"ingressClassName": "nginx", "rules": [rule("foo.example.com")]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"},
                {"hostname": "lb.example.com"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.9"}]}},
        });
        let many = json!({
            "metadata": meta("many", "default", "2026-11-25T09:00:00Z"),
            "spec": {"rules": [rule("a.example.com"), rule(""), rule("b.example.com"),
                rule("c.example.com"), rule("d.example.com"), rule("e.example.com")],
                "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}]},
        });
        let catch_all = json!({
            "metadata": meta("catch-all", "default", "2026-11-25T09:00:00Z"),
            "spec": {"defaultBackend": backend},
            "status": {"loadBalancer": {}},
        });
        let three = json!({
            "metadata": meta("three", "default", "2026-11-25T09:00:00Z"),
            "spec": {"rules": [rule("a.example.com"), rule("b.example.com"),
                rule("c.example.com")]},
        });
        check(
            "networking.k8s.io",
            "ingresses",
            &[simple, many, catch_all, three],
            "
NAME        CLASS    HOSTS                                                   ADDRESS                            PORTS     AGE
simple      nginx    foo.example.com                                         10.0.0.2,10.0.0.9,lb.example.com   80        60m
many        <none>   a.example.com,b.example.com,c.example.com + 3 more...                                      80, 443   60m
catch-all   <none>   *                                                                                          80        60m
three       <none>   a.example.com,b.example.com,c.example.com                                                  80        60m
",
            None,
        );
        let plain = json!({"metadata": {"name": "nginx", "creationTimestamp": "2026-11-25T09:00:00Z"},
            "spec": {"controller": "k8s.io/ingress-nginx"}});
        let grouped = json!({"metadata": {"name": "lb", "creationTimestamp": "2026-11-25T09:00:00Z"},
            "spec": {"controller": "example.com/lb", "parameters": {"apiGroup": "k8s.example.com",
                "kind": "IngressParameters", "name": "external-lb", "scope": "Cluster"}}});
        let core = json!({"metadata": {"name": "core", "creationTimestamp": "2026-11-25T09:00:00Z"},
            "spec": {"controller": "example.com/lb", "parameters": {"kind": "ConfigMap",
                "name": "lb-config", "scope": "Namespace", "namespace": "ingress"}}});
        check(
            "networking.k8s.io",
            "ingressclasses",
            &[plain, grouped, core],
            "
NAME    CONTROLLER             PARAMETERS                                      AGE
nginx   k8s.io/ingress-nginx   <none>                                          60m
lb      example.com/lb         IngressParameters.k8s.example.com/external-lb   60m
core    example.com/lb         ConfigMap/lb-config                             60m
",
            None,
        );
    }

    #[test]
    fn ip_addresses_and_service_cidrs() {
        let created = "2026-11-25T09:00:00Z";
        let service = json!({"metadata": {"name": "10.96.0.1", "creationTimestamp": created},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default",
                "name": "kubernetes"}}});
        let gateway = json!({"metadata": {"name": "10.96.0.9", "creationTimestamp": created},
            "spec": {"parentRef": {"group": "Gateway.Networking.k8s.io", "resource": "Gateways",
                "name": "gw"}}});
        let orphan = json!({"metadata": {"name": "2001:db8::1", "creationTimestamp": created},
            "spec": {}});
        check(
            "networking.k8s.io",
            "ipaddresses",
            &[service, gateway, orphan],
            "
NAME          PARENTREF
10.96.0.1     services/default/kubernetes
10.96.0.9     gateways.gateway.networking.k8s.io/gw
2001:db8::1   <none>
",
            None,
        );
        let default = json!({"metadata": {"name": "kubernetes", "creationTimestamp": created},
            "spec": {"cidrs": ["10.96.0.0/12"]}});
        let dual = json!({"metadata": {"name": "extra", "creationTimestamp": created},
            "spec": {"cidrs": ["10.100.0.0/24", "fd00::/108"]}});
        check(
            "networking.k8s.io",
            "servicecidrs",
            &[default, dual],
            "
NAME         CIDRS                      AGE
kubernetes   10.96.0.0/12               60m
extra        10.100.0.0/24,fd00::/108   60m
",
            None,
        );
    }

    #[test]
    fn horizontal_pod_autoscalers() {
        let cpu = |percent: i64| {
            json!({"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": percent}}})
        };
        let unknown = json!({
            "metadata": meta("web", "default", "2026-11-25T09:00:00Z"),
            "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 2, "maxReplicas": 5, "metrics": [cpu(80)]},
            "status": {"currentReplicas": 2, "desiredReplicas": 2},
        });
        let measured = json!({
            "metadata": meta("api", "default", "2026-11-25T09:00:00Z"),
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"}, "maxReplicas": 10,
                "metrics": [
                    cpu(50),
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "104857600"}}},
                    {"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"}}},
                ]},
            "status": {"desiredReplicas": 0, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageValue": "10m", "averageUtilization": 12}}},
            ]},
        });
        let none = json!({
            "metadata": meta("bare", "default", "2026-11-25T09:00:00Z"),
            "spec": {"scaleTargetRef": {"kind": "ReplicaSet", "name": "rs"}, "maxReplicas": 1,
                "metrics": [{"type": "External", "external": {"metric": {"name": "queue"},
                    "target": {"type": "AverageValue", "averageValue": "30"}}}]},
        });
        let v2 = crate::kinds::find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
        let table_v2 =
            table(v2, vec![unknown.clone(), measured, none], "120", IncludeObject::Metadata, NOW);
        assert_eq!(
            kubectl_get(&table_v2, false),
            "
NAME   REFERENCE         TARGETS                                                 MINPODS   MAXPODS   REPLICAS   AGE
web    StatefulSet/web   cpu: <unknown>/80%                                      2         5         2          60m
api    Deployment/api    cpu: 12%/50%, memory: <unknown>/104857600 + 1 more...   <unset>   10        0          60m
bare   ReplicaSet/rs     <unknown>/30 (avg)                                      <unset>   1         0          60m
"
            .trim_start_matches('\n')
        );
        // autoscaling/v1 prints its v2 form.
        let v1 = crate::autoscaling::v2_to_v1(&unknown);
        let table = table(
            crate::kinds::find("autoscaling", "v1", "horizontalpodautoscalers").unwrap(),
            vec![v1],
            "120",
            IncludeObject::Metadata,
            NOW,
        );
        assert_eq!(table["rows"][0]["cells"][2], "cpu: <unknown>/80%");
    }

    #[test]
    fn timestamps() {
        let pods = resource("", "pods");
        let age = |created: Value| {
            cells(pods, &json!({"metadata": {"name": "p", "creationTimestamp": created}}), NOW)[4]
                .clone()
        };
        assert_eq!(age(json!("2026-11-25T09:59:48Z")), "12s");
        assert_eq!(age(json!("2026-11-25T09:59:48.999999Z")), "12s");
        assert_eq!(age(json!("2026-11-25T11:59:48+02:00")), "12s");
        assert_eq!(age(json!("2026-11-25T04:29:48-05:30")), "12s");
        assert_eq!(age(json!("2024-02-29T10:00:00Z")), "2y270d");
        assert_eq!(age(json!("2026-11-25T10:00:01Z")), "0s");
        assert_eq!(age(json!("2026-11-25T10:00:05Z")), "<invalid>");
        assert_eq!(age(Value::Null), "<unknown>");
        assert_eq!(age(json!("0001-01-01T00:00:00Z")), "<unknown>");
        assert_eq!(age(json!("yesterday")), "<unknown>");
        assert_eq!(age(json!("2026-13-25T10:00:00Z")), "<unknown>");
    }

    #[test]
    fn pod_templates_runtime_classes_and_csi_kinds() {
        let at = "2026-11-25T09:59:48Z";
        let template = json!({
            "metadata": meta("web", "default", at),
            "template": {"metadata": {"labels": {"tier": "web", "app": "nginx"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"},
                                                 {"name": "log", "image": "busybox"}]}},
        });
        let bare = json!({"metadata": meta("bare", "default", at),
                          "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}});
        check(
            "",
            "podtemplates",
            &[template, bare],
            "
NAME   CONTAINERS   IMAGES               POD LABELS
web    nginx,log    nginx:1.27,busybox   app=nginx,tier=web
bare   c            i                    <none>
",
            None,
        );
        let runc = json!({"metadata": meta("runc", "", at), "handler": "runc"});
        check(
            "node.k8s.io",
            "runtimeclasses",
            &[runc],
            "
NAME   HANDLER   AGE
runc   runc      12s
",
            None,
        );
        let defaulted = json!({"metadata": meta("hostpath.csi.k8s.io", "", at), "spec": {
            "attachRequired": false, "podInfoOnMount": true, "storageCapacity": true,
            "tokenRequests": [{"audience": "vault"}, {"audience": "gcp"}],
            "requiresRepublish": true, "volumeLifecycleModes": ["Persistent", "Ephemeral"]}});
        let unset = json!({"metadata": meta("unset.csi.io", "", at), "spec": {}});
        check(
            "storage.k8s.io",
            "csidrivers",
            &[defaulted, unset],
            "
NAME                  ATTACHREQUIRED   PODINFOONMOUNT   STORAGECAPACITY   TOKENREQUESTS   REQUIRESREPUBLISH   MODES                  AGE
hostpath.csi.k8s.io   false            true             true              vault,gcp       true                Persistent,Ephemeral   12s
unset.csi.io          true             false            false             <unset>         false               <none>                 12s
",
            None,
        );
        let node = json!({"metadata": meta("node-1", "", at), "spec": {"drivers": [
            {"name": "a.csi.io", "nodeID": "n1"}, {"name": "b.csi.io", "nodeID": "n1"}]}});
        let empty = json!({"metadata": meta("node-2", "", at), "spec": {"drivers": null}});
        check(
            "storage.k8s.io",
            "csinodes",
            &[node, empty],
            "
NAME     DRIVERS   AGE
node-1   2         12s
node-2   0         12s
",
            None,
        );
        let attached = json!({"metadata": meta("csi-123", "", at),
            "spec": {"attacher": "a.csi.io", "nodeName": "node-1",
                     "source": {"persistentVolumeName": "pv-1"}},
            "status": {"attached": true}});
        let inline = json!({"metadata": meta("csi-456", "", at),
            "spec": {"attacher": "a.csi.io", "nodeName": "node-2",
                     "source": {"inlineVolumeSpec": {}}},
            "status": {"attached": false}});
        check(
            "storage.k8s.io",
            "volumeattachments",
            &[attached, inline],
            "
NAME      ATTACHER   PV     NODE     ATTACHED   AGE
csi-123   a.csi.io   pv-1   node-1   true       12s
csi-456   a.csi.io          node-2   false      12s
",
            None,
        );
        let reported = json!({"metadata": meta("csisc-1", "default", at),
            "storageClassName": "standard", "capacity": "1024Mi"});
        let unknown = json!({"metadata": meta("csisc-2", "default", at),
            "storageClassName": "fast"});
        check(
            "storage.k8s.io",
            "csistoragecapacities",
            &[reported, unknown],
            "
NAME      STORAGECLASSNAME   CAPACITY
csisc-1   standard           1Gi
csisc-2   fast               <unset>
",
            None,
        );
        // The column definitions carry upstream's types and formats.
        let columns = column_definitions(resource("storage.k8s.io", "volumeattachments"));
        assert_eq!((columns[1].name, columns[1].format), ("Attacher", "name"));
        let columns = column_definitions(resource("node.k8s.io", "runtimeclasses"));
        assert_eq!((columns[1].name, columns[1].description), ("Handler", ""));
        let columns = column_definitions(resource("storage.k8s.io", "csidrivers"));
        let types: Vec<_> = columns.iter().map(|c| c.type_).collect();
        assert_eq!(
            types,
            ["string", "boolean", "boolean", "boolean", "string", "boolean", "string", "string"]
        );
    }
}
