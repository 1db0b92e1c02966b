//! Rules of batch/v1: Job (`pkg/apis/batch/validation`: `ValidateJob`, `ValidateJobUpdate`,
//! `ValidateJobUpdateStatus`, with the options kube-apiserver v1.33's job strategy passes:
//! prefixed labels required, elastic Indexed jobs, scheduling directives mutable while a job is
//! suspended and never started; on a status update the transition rules of
//! `getStatusValidationOptions`, each applying when the fields it reads change) and CronJob
//! (`ValidateCronJobCreate`, `ValidateCronJobUpdate`: the schedule as robfig/cron parses it, the
//! time zone, the job template).

use std::collections::HashSet;

use serde_json::Value;

use super::meta::{self, NameRule};
use super::{Errors, Shown, child, get, index, key, list, str_of, str_or_empty};

/// `maxParallelismForIndexedJob`, `maxFailedIndexesForIndexedJob` and `completionsSoftLimit`.
const INDEXED_LIMIT: i64 = 100_000;
/// `parallelismLimitForHighCompletions` and `maxFailedIndexesLimitForHighCompletions`.
const HIGH_COMPLETIONS_LIMIT: i64 = 10_000;
const MAX_POD_FAILURE_POLICY_RULES: usize = 20;
const MAX_EXIT_CODE_VALUES: usize = 255;
const MAX_POD_CONDITION_PATTERNS: usize = 20;
const MAX_SUCCESS_POLICY_RULES: usize = 20;
const MAX_MANAGED_BY_LENGTH: usize = 63;
const FAILURE_POLICY_ACTIONS: [&str; 4] = ["Count", "FailIndex", "FailJob", "Ignore"];
/// The labels the job strategy's `generateSelector` puts on a Job's pod template: its uid
/// (the one its selector selects) and its name, each also without the prefix.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// A CronJob's jobs are named `<cronjob>-<minutes>`: 11 characters more, within 63.
const MAX_CRON_JOB_NAME: usize = 52;

/// The Job condition types the status rules read.
const COMPLETE: &str = "Complete";
const FAILED: &str = "Failed";
const FAILURE_TARGET: &str = "FailureTarget";
const SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";
const SUSPENDED: &str = "Suspended";

pub(crate) fn validate(errs: &mut Errors, kind: &str, object: &Value) {
    if kind == "CronJob" {
        meta::object_meta(errs, object, true, NameRule::Subdomain);
        cron_job_spec(errs, get(object, "spec").unwrap_or(&Value::Null), None);
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        if name.len() > MAX_CRON_JOB_NAME {
            errs.invalid("metadata.name", name, "must be no more than 52 characters");
        }
        return;
    }
    if kind != "Job" {
        meta::object_meta(errs, object, true, meta::name_rule(kind));
        return;
    }
    meta::object_meta(errs, object, true, NameRule::Subdomain);
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    generated_selector(errs, object, spec);
    job_spec(errs, spec);
    // The controller names an Indexed job's pods' hostnames `<job>-<index>`.
    let indexed = str_of(spec, "completionMode") == Some("Indexed");
    let completions = get(spec, "completions").and_then(Value::as_i64).unwrap_or(0);
    if indexed && completions > 0 {
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let hostname = format!("{name}-{}", completions - 1);
        if !meta::dns1123_label(&hostname).is_empty() {
            errs.invalid(
                "metadata.name",
                name,
                &format!("will not able to create pod with invalid DNS label: {hostname}"),
            );
        }
    }
}

/// `ValidateJobSpecUpdate`: the spec as on create, and what may not change.
pub(crate) fn validate_update(errs: &mut Errors, kind: &str, object: &Value, old: &Value) {
    if kind == "CronJob" {
        let old_spec = get(old, "spec").unwrap_or(&Value::Null);
        cron_job_spec(errs, get(object, "spec").unwrap_or(&Value::Null), Some(old_spec));
        return;
    }
    if kind != "Job" {
        return;
    }
    let spec = get(object, "spec").unwrap_or(&Value::Null);
    let old_spec = get(old, "spec").unwrap_or(&Value::Null);
    job_spec(errs, spec);
    // Elastic Indexed jobs: completions change with parallelism.
    let completions = get(spec, "completions");
    if str_of(spec, "completionMode") != Some("Indexed") {
        errs.immutable("spec.completions", completions, get(old_spec, "completions"));
    } else if !super::same(completions, get(old_spec, "completions"))
        && let Some(completions) = completions.and_then(Value::as_i64)
        && Some(completions) != get(spec, "parallelism").and_then(Value::as_i64)
    {
        errs.invalid(
            "spec.completions",
            completions,
            "can only be modified in tandem with spec.parallelism",
        );
    }
    errs.immutable("spec.selector", get(spec, "selector"), get(old_spec, "selector"));
    template_update(errs, spec, old_spec, old);
    for field in
        ["completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"]
    {
        errs.immutable(&child("spec", field), get(spec, field), get(old_spec, field));
    }
}

/// `ValidateJobStatusUpdate` (through the status subresource), with the options v1.33's job
/// status strategy passes: `getStatusValidationOptions` with `JobManagedBy` on (beta, on by
/// default), including the release-1.33 fixes for a suspended Job with no completions
/// (kubernetes#132728) and for a resumed Job's new start time (kubernetes#135129).
pub(crate) fn status(errs: &mut Errors, object: &Value, old: &Value) {
    let job = JobView::of(object);
    let old_job = JobView::of(old);
    let options = StatusOptions::new(&job, &old_job);
    job_status(errs, &job, &options);

    if options.reject_disabling_terminal_condition {
        for kind in [FAILED, COMPLETE, FAILURE_TARGET] {
            if old_job.condition_true(kind) && !job.condition_true(kind) {
                errs.invalid_omitted(
                    "status.conditions",
                    &format!("cannot disable the terminal {kind}=True condition"),
                );
            }
        }
    }
    if options.reject_decreasing_failed_counter && job.count("failed") < old_job.count("failed") {
        errs.invalid("status.failed", job.count("failed"), "cannot decrease the failed counter");
    }
    if options.reject_decreasing_succeeded_counter
        && job.count("succeeded") < old_job.count("succeeded")
    {
        errs.invalid(
            "status.succeeded",
            job.count("succeeded"),
            "cannot decrease the succeeded counter",
        );
    }
    // Only between two set times: clearing it is refused for a Complete Job ("completionTime
    // is required for Complete jobs") and allowed for a Job that has not finished.
    if options.reject_mutating_completion_time
        && let (Some(completion), Some(old_completion)) =
            (job.time("completionTime"), old_job.time("completionTime"))
        && !same_time(Some(completion), Some(old_completion))
    {
        errs.invalid(
            "status.completionTime",
            go_time(completion),
            "completionTime cannot be mutated",
        );
    }
    // A Job that has not started yet may get its start time.
    if options.reject_start_time_update_for_unsuspended_job
        && old_job.time("startTime").is_some()
        && !same_time(old_job.time("startTime"), job.time("startTime"))
        && !job.suspended()
    {
        errs.required("status.startTime", "startTime cannot be removed for unsuspended job");
    }
    if old_job.condition_true(SUCCESS_CRITERIA_MET) && !job.condition_true(SUCCESS_CRITERIA_MET) {
        errs.invalid_omitted(
            "status.conditions",
            "cannot disable the SuccessCriteriaMet=True condition",
        );
    }
    if old_job.condition_true(COMPLETE)
        && !old_job.condition_true(SUCCESS_CRITERIA_MET)
        && job.condition_true(SUCCESS_CRITERIA_MET)
    {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions",
        );
    }
}

/// `validateJobStatus`: the counts, the uncounted pods, then each rule the options turn on.
fn job_status(errs: &mut Errors, job: &JobView<'_>, options: &StatusOptions) {
    let status = job.status;
    for field in ["active", "succeeded", "failed", "ready", "terminating"] {
        errs.nonnegative(&child("status", field), status.get(field));
    }
    let mut seen = HashSet::new();
    for outcome in ["succeeded", "failed"] {
        let uncounted = get(status, "uncountedTerminatedPods").unwrap_or(&Value::Null);
        for (i, uid) in list(uncounted, outcome).iter().enumerate() {
            let at = index(&format!("status.uncountedTerminatedPods.{outcome}"), i);
            let uid = uid.as_str().unwrap_or("");
            if uid.is_empty() {
                errs.invalid(&at, uid, "must not be empty");
            } else if !seen.insert(uid) {
                errs.duplicate(&at, uid);
            }
        }
    }
    let complete = job.condition_true(COMPLETE);
    let failed = job.condition_true(FAILED);
    let failure_target = job.condition_true(FAILURE_TARGET);
    let success_criteria_met = job.condition_true(SUCCESS_CRITERIA_MET);
    let finished = complete || failed;
    let (start, completion) = (job.time("startTime"), job.time("completionTime"));
    if options.reject_complete_job_with_failed_condition && complete && failed {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set Complete=True and Failed=true conditions",
        );
    }
    if options.reject_complete_job_with_failure_target_condition && complete && failure_target {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set Complete=True and FailureTarget=true conditions",
        );
    }
    if options.reject_not_complete_job_with_completion_time
        && let Some(completion) = completion
        && !complete
    {
        errs.invalid(
            "status.completionTime",
            go_time(completion),
            "cannot set completionTime when there is no Complete=True condition",
        );
    }
    if options.reject_complete_job_without_completion_time && completion.is_none() && complete {
        errs.required("status.completionTime", "completionTime is required for Complete jobs");
    }
    if options.reject_completion_time_before_start_time
        && let (Some(start), Some(completion)) = (start, completion)
        && let (Some(started), Some(completed)) = (timestamp(start), timestamp(completion))
        && completed < started
    {
        errs.invalid(
            "status.completionTime",
            go_time(completion),
            "completionTime cannot be set before startTime",
        );
    }
    if options.reject_failed_job_without_failure_target && failed && !failure_target {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set Failed=True condition without the FailureTarget=true condition",
        );
    }
    if options.reject_complete_job_without_success_criteria_met && complete && !success_criteria_met
    {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
        );
    }
    let active = job.count("active");
    if options.reject_finished_job_with_active_pods && active > 0 && finished {
        errs.invalid("status.active", active, "active>0 is invalid for finished job");
    }
    if options.reject_finished_job_without_start_time && start.is_none() && finished {
        errs.required("status.startTime", "startTime is required for finished job");
    }
    if options.reject_finished_job_with_uncounted_terminated_pods
        && finished
        && let Some((succeeded, failed)) = job.uncounted()
        && succeeded.len() + failed.len() > 0
    {
        errs.invalid(
            "status.uncountedTerminatedPods",
            Shown::Raw(format!(
                "batch.UncountedTerminatedPods{{Succeeded:{}, Failed:{}}}",
                go_uids(job.uncounted_list("succeeded")),
                go_uids(job.uncounted_list("failed")),
            )),
            "uncountedTerminatedPods needs to be empty for finished job",
        );
    }
    let completions = get(job.spec, "completions").and_then(Value::as_i64);
    let completed_indexes = str_or_empty(status, "completedIndexes");
    let failed_indexes = job.failed_indexes();
    let per_index = get(job.spec, "backoffLimitPerIndex").is_some();
    if options.reject_invalid_completed_indexes
        && let Some(completions) = completions
        && let Err(error) = count_indexes(completed_indexes, completions)
    {
        errs.invalid(
            "status.completedIndexes",
            completed_indexes,
            &format!("error parsing completedIndexes: {error}"),
        );
    }
    if options.reject_invalid_failed_indexes
        && let (Some(completions), true, Some(failed_indexes)) =
            (completions, per_index, failed_indexes)
        && let Err(error) = count_indexes(failed_indexes, completions)
    {
        errs.invalid(
            "status.failedIndexes",
            failed_indexes,
            &format!("error parsing failedIndexes: {error}"),
        );
    }
    if options.reject_completed_indexes_for_non_indexed_job
        && !completed_indexes.is_empty()
        && !job.indexed()
    {
        errs.invalid(
            "status.completedIndexes",
            completed_indexes,
            "cannot set non-empty completedIndexes when non-indexed completion mode",
        );
    }
    // Also keeps failed indexes off NonIndexed Jobs, which have no backoffLimitPerIndex.
    if options.reject_failed_indexes_for_no_backoff_limit_per_index
        && !per_index
        && let Some(failed_indexes) = failed_indexes
    {
        errs.invalid(
            "status.failedIndexes",
            failed_indexes,
            "cannot set non-null failedIndexes when backoffLimitPerIndex is null",
        );
    }
    if options.reject_failed_indexes_overlapping_completed
        && let (Some(completions), Some(failed_indexes)) = (completions, failed_indexes)
        && let Some(error) = indexes_overlap(completed_indexes, failed_indexes, completions)
    {
        errs.invalid("status.failedIndexes", failed_indexes, &error);
    }
    if options.reject_finished_job_with_terminating_pods
        && let Some(terminating) = job.int("terminating")
        && terminating > 0
        && finished
    {
        errs.invalid(
            "status.terminating",
            terminating,
            "terminating>0 is invalid for finished job",
        );
    }
    if options.reject_more_ready_than_active_pods
        && let Some(ready) = job.int("ready")
        && ready > active
    {
        errs.invalid("status.ready", ready, "cannot set more ready pods than active");
    }
    // `AllowForSuccessCriteriaMetInExtendedScope` is on, so neither "cannot set
    // SuccessCriteriaMet to NonIndexed Job" nor "… for Job without SuccessPolicy" applies.
    if success_criteria_met && failed {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set SuccessCriteriaMet=True and Failed=true conditions",
        );
    }
    if success_criteria_met && failure_target {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set SuccessCriteriaMet=True and FailureTarget=true conditions",
        );
    }
    if get(job.spec, "successPolicy").is_some() && !success_criteria_met && complete {
        errs.invalid_omitted(
            "status.conditions",
            "cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True",
        );
    }
}

/// `JobStatusValidationOptions` as `getStatusValidationOptions` sets them. Most rules apply
/// only when a field they read changed, so a status update unrelated to a violation (or one
/// the controller makes right after a user scaled the Job down) still goes through.
#[derive(Debug)]
struct StatusOptions {
    reject_decreasing_succeeded_counter: bool,
    reject_decreasing_failed_counter: bool,
    reject_disabling_terminal_condition: bool,
    reject_invalid_completed_indexes: bool,
    reject_invalid_failed_indexes: bool,
    reject_completed_indexes_for_non_indexed_job: bool,
    reject_failed_indexes_for_no_backoff_limit_per_index: bool,
    reject_failed_indexes_overlapping_completed: bool,
    reject_failed_job_without_failure_target: bool,
    reject_complete_job_without_success_criteria_met: bool,
    reject_finished_job_with_active_pods: bool,
    reject_finished_job_without_start_time: bool,
    reject_finished_job_with_uncounted_terminated_pods: bool,
    reject_start_time_update_for_unsuspended_job: bool,
    reject_completion_time_before_start_time: bool,
    reject_mutating_completion_time: bool,
    reject_not_complete_job_with_completion_time: bool,
    reject_complete_job_without_completion_time: bool,
    reject_complete_job_with_failed_condition: bool,
    reject_complete_job_with_failure_target_condition: bool,
    reject_more_ready_than_active_pods: bool,
    reject_finished_job_with_terminating_pods: bool,
}

impl StatusOptions {
    fn new(job: &JobView<'_>, old: &JobView<'_>) -> StatusOptions {
        let changed = |kind: &str| old.condition_true(kind) != job.condition_true(kind);
        let finished_changed = old.finished() != job.finished();
        let complete_changed = changed(COMPLETE);
        let failed_changed = changed(FAILED);
        let failure_target_changed = changed(FAILURE_TARGET);
        let success_criteria_met_changed = changed(SUCCESS_CRITERIA_MET);
        let completed_indexes_changed = str_or_empty(old.status, "completedIndexes")
            != str_or_empty(job.status, "completedIndexes");
        let failed_indexes_changed = old.failed_indexes() != job.failed_indexes();
        let active_changed = old.count("active") != job.count("active");
        let start_time_changed = !same_time(old.time("startTime"), job.time("startTime"));
        let completion_time_changed =
            !same_time(old.time("completionTime"), job.time("completionTime"));
        let uncounted_changed = old.uncounted() != job.uncounted();
        let ready_changed = old.int("ready") != job.int("ready");
        let terminating_changed = old.int("terminating") != job.int("terminating");
        let int = |field: &str| get(job.spec, field).and_then(Value::as_i64);
        let suspended_with_zero_completions = job.suspended() && int("completions") == Some(0);
        // The controller gives a resumed Job a new start time.
        let resuming = old.condition_true(SUSPENDED) && job.condition_false(SUSPENDED);
        StatusOptions {
            // An Indexed Job with as many completions as parallelism can be scaled down.
            reject_decreasing_succeeded_counter: !job.indexed()
                || int("completions") != int("parallelism"),
            reject_decreasing_failed_counter: true,
            reject_disabling_terminal_condition: true,
            reject_invalid_completed_indexes: completed_indexes_changed,
            reject_invalid_failed_indexes: failed_indexes_changed,
            reject_completed_indexes_for_non_indexed_job: completed_indexes_changed,
            reject_failed_indexes_for_no_backoff_limit_per_index: failed_indexes_changed,
            reject_failed_indexes_overlapping_completed: failed_indexes_changed
                || completed_indexes_changed,
            reject_failed_job_without_failure_target: failed_changed || failed_indexes_changed,
            reject_complete_job_without_success_criteria_met: complete_changed
                || success_criteria_met_changed,
            reject_finished_job_with_active_pods: finished_changed || active_changed,
            reject_finished_job_without_start_time: (finished_changed || start_time_changed)
                && !suspended_with_zero_completions,
            reject_finished_job_with_uncounted_terminated_pods: finished_changed
                || uncounted_changed,
            reject_start_time_update_for_unsuspended_job: start_time_changed && !resuming,
            reject_completion_time_before_start_time: start_time_changed || completion_time_changed,
            reject_mutating_completion_time: true,
            reject_not_complete_job_with_completion_time: complete_changed
                || completion_time_changed,
            reject_complete_job_without_completion_time: complete_changed
                || completion_time_changed,
            reject_complete_job_with_failed_condition: complete_changed || failed_changed,
            reject_complete_job_with_failure_target_condition: complete_changed
                || failure_target_changed,
            reject_more_ready_than_active_pods: ready_changed || active_changed,
            reject_finished_job_with_terminating_pods: finished_changed || terminating_changed,
        }
    }
}

/// A Job's spec and status as the status rules read them: a missing count is Go's zero, a
/// missing pointer field is `nil`.
#[derive(Debug)]
struct JobView<'a> {
    spec: &'a Value,
    status: &'a Value,
}

impl<'a> JobView<'a> {
    fn of(job: &'a Value) -> JobView<'a> {
        JobView {
            spec: get(job, "spec").unwrap_or(&Value::Null),
            status: get(job, "status").unwrap_or(&Value::Null),
        }
    }

    /// `IsConditionTrue`.
    fn condition_true(&self, kind: &str) -> bool {
        self.condition_is(kind, "True")
    }

    /// `IsConditionFalse`.
    fn condition_false(&self, kind: &str) -> bool {
        self.condition_is(kind, "False")
    }

    fn condition_is(&self, kind: &str, status: &str) -> bool {
        list(self.status, "conditions")
            .iter()
            .any(|c| str_of(c, "type") == Some(kind) && str_of(c, "status") == Some(status))
    }

    /// `IsJobFinished`.
    fn finished(&self) -> bool {
        self.condition_true(COMPLETE) || self.condition_true(FAILED)
    }

    fn indexed(&self) -> bool {
        str_of(self.spec, "completionMode") == Some("Indexed")
    }

    fn suspended(&self) -> bool {
        self.spec.get("suspend") == Some(&Value::Bool(true))
    }

    /// An `int32` count (`active`, `succeeded`, `failed`).
    fn count(&self, field: &str) -> i64 {
        self.int(field).unwrap_or(0)
    }

    /// An `*int32` (`ready`, `terminating`).
    fn int(&self, field: &str) -> Option<i64> {
        get(self.status, field).and_then(Value::as_i64)
    }

    fn time(&self, field: &str) -> Option<&'a Value> {
        get(self.status, field)
    }

    fn failed_indexes(&self) -> Option<&'a str> {
        get(self.status, "failedIndexes").and_then(Value::as_str)
    }

    /// `uncountedTerminatedPods` as `Semantic.DeepEqual` compares it: a missing and an empty
    /// list are the same, a missing and an empty object are not.
    fn uncounted(&self) -> Option<(&'a [Value], &'a [Value])> {
        get(self.status, "uncountedTerminatedPods")
            .map(|uncounted| (list(uncounted, "succeeded"), list(uncounted, "failed")))
    }

    fn uncounted_list(&self, outcome: &str) -> Option<&'a [Value]> {
        get(self.status, "uncountedTerminatedPods")
            .and_then(|uncounted| get(uncounted, outcome))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    }
}

/// A `metav1.Time` as an instant (it decodes RFC 3339).
fn timestamp(value: &Value) -> Option<jiff::Timestamp> {
    value.as_str()?.parse().ok()
}

/// `ptr.Equal` of two `*metav1.Time`: both nil, or the same instant.
fn same_time(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (timestamp(a), timestamp(b)) {
            (Some(a), Some(b)) => a == b,
            _ => a == b,
        },
        _ => false,
    }
}

/// A `*metav1.Time` as a field error shows it: `time.Time`'s `String` in the API server's
/// local zone, UTC (`2006-01-02 15:04:05.999999999 -0700 MST`).
fn go_time(value: &Value) -> Shown {
    let Some(at) = timestamp(value) else { return Shown::json(Some(value)) };
    let mut text = at.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = at.subsec_nanosecond();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    Shown::Raw(text)
}

/// A `[]types.UID` as Go's `%#v` shows it.
fn go_uids(uids: Option<&[Value]>) -> String {
    match uids {
        None => "[]types.UID(nil)".to_owned(),
        Some(uids) => {
            let quoted: Vec<String> =
                uids.iter().map(|uid| super::go_quote(uid.as_str().unwrap_or(""))).collect();
            format!("[]types.UID{{{}}}", quoted.join(", "))
        }
    }
}

/// `validateGeneratedSelector`: unless the selector is manual, the template carries the job's
/// uid and name as labels and the selector selects them.
fn generated_selector(errs: &mut Errors, job: &Value, spec: &Value) {
    if spec.get("manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    let Some(selector) = get(spec, "selector") else { return };
    let uid = job.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
    let name = job.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    if uid.is_empty() {
        errs.required("metadata.uid", "");
    }
    let labels = spec.pointer("/template/metadata/labels");
    let no_labels = serde_json::Map::new();
    let labels_map = labels.and_then(Value::as_object).unwrap_or(&no_labels);
    for (label, expected) in [
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
    ] {
        let at = key("spec.template.metadata.labels", label);
        match labels_map.get(label).and_then(Value::as_str) {
            None => errs.required(&at, expected),
            Some(actual) if actual != expected => {
                errs.invalid(&at, Shown::json(labels), &format!("must be '{expected}'"));
            }
            Some(_) => {}
        }
    }
    let expected: serde_json::Map<String, Value> = [
        (CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::from(v)))
    .collect();
    if meta::valid_selector(selector) && !meta::selector_matches(selector, &expected) {
        errs.invalid(
            "spec.selector",
            meta::show_selector(selector),
            "`selector` not auto-generated",
        );
    }
}

/// `ValidateJobSpec`: `validateJobSpec`, then the selector and the template's labels.
fn job_spec(errs: &mut Errors, spec: &Value) {
    job_spec_fields(errs, spec, "spec");
    let selector = get(spec, "selector");
    match selector {
        None => errs.required("spec.selector", ""),
        Some(selector) => meta::label_selector(errs, selector, "spec.selector"),
    }
    if selector.is_none_or(meta::valid_selector) {
        let template_meta = spec.pointer("/template/metadata").unwrap_or(&Value::Null);
        meta::template_labels_match(errs, selector, template_meta);
    }
}

/// `validateJobSpec` (also a CronJob's job template's).
fn job_spec_fields(errs: &mut Errors, spec: &Value, path: &str) {
    let int = |field: &str| get(spec, field).and_then(Value::as_i64);
    for field in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ] {
        errs.nonnegative(&child(path, field), get(spec, field));
    }
    if int("maxFailedIndexes").is_some() {
        errs.nonnegative(&child(path, "maxFailedIndexes"), get(spec, "maxFailedIndexes"));
        if int("backoffLimitPerIndex").is_none() {
            errs.required(
                &child(path, "backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            );
        }
    }
    if let Some(managed_by) = str_of(spec, "managedBy") {
        super::networking::domain_prefixed_path(errs, &child(path, "managedBy"), managed_by);
        if managed_by.len() > MAX_MANAGED_BY_LENGTH {
            errs.too_long(&child(path, "managedBy"), MAX_MANAGED_BY_LENGTH);
        }
    }
    let mode = str_of(spec, "completionMode");
    if let Some(mode) = mode {
        if !matches!(mode, "NonIndexed" | "Indexed") {
            errs.not_supported(&child(path, "completionMode"), mode, &["NonIndexed", "Indexed"]);
        }
        if mode == "Indexed" {
            indexed_limits(errs, spec, path);
        }
    }
    if mode.is_none_or(|mode| mode == "NonIndexed") {
        for field in ["backoffLimitPerIndex", "maxFailedIndexes"] {
            if let Some(value) = int(field) {
                errs.invalid(&child(path, field), value, "requires indexed completion mode");
            }
        }
    }
    if let Some(policy) = get(spec, "podFailurePolicy") {
        pod_failure_policy(errs, spec, policy, &child(path, "podFailurePolicy"));
    }
    if let Some(policy) = get(spec, "successPolicy") {
        if mode != Some("Indexed") {
            errs.invalid(
                &child(path, "successPolicy"),
                Shown::Raw("batch.SuccessPolicy{…}".to_owned()),
                "requires indexed completion mode",
            );
        } else {
            success_policy(errs, spec, policy, &child(path, "successPolicy"));
        }
    }
    if let Some(replacement) = str_of(spec, "podReplacementPolicy") {
        let at = child(path, "podReplacementPolicy");
        if get(spec, "podFailurePolicy").is_some() {
            if replacement != "Failed" {
                errs.not_supported(&at, replacement, &["Failed"]);
            }
        } else if !matches!(replacement, "Failed" | "TerminatingOrFailed") {
            errs.not_supported(&at, replacement, &["Failed", "TerminatingOrFailed"]);
        }
    }
    // `ValidatePodTemplateSpec`.
    let template = get(spec, "template").unwrap_or(&Value::Null);
    let template_path = child(path, "template");
    let template_meta = get(template, "metadata").unwrap_or(&Value::Null);
    meta::labels(errs, get(template_meta, "labels"), &child(&template_path, "labels"));
    meta::annotations(
        errs,
        get(template_meta, "annotations"),
        &child(&template_path, "annotations"),
    );
    let pod = get(template, "spec").unwrap_or(&Value::Null);
    super::core::pod_spec(errs, pod, &child(&template_path, "spec"));
    let restart = str_or_empty(pod, "restartPolicy");
    let restart_path = child(&template_path, "spec.restartPolicy");
    match restart {
        "" | "Always" => {
            errs.required(&restart_path, r#"valid values: "OnFailure", "Never""#);
        }
        "OnFailure" | "Never" => {
            if get(spec, "podFailurePolicy").is_some() && restart != "Never" {
                errs.invalid(
                    &restart_path,
                    restart,
                    r#"only "Never" is supported when podFailurePolicy is specified"#,
                );
            }
        }
        other => errs.not_supported(&restart_path, other, &["OnFailure", "Never"]),
    }
}

/// The limits of an Indexed job: completions required, parallelism and failed indexes bounded.
fn indexed_limits(errs: &mut Errors, spec: &Value, path: &str) {
    let int = |field: &str| get(spec, field).and_then(Value::as_i64);
    let (completions, parallelism) = (int("completions"), int("parallelism"));
    let max_failed = int("maxFailedIndexes");
    if completions.is_none() {
        errs.required(&child(path, "completions"), "when completion mode is Indexed");
    }
    if let Some(parallelism) = parallelism.filter(|p| *p > INDEXED_LIMIT) {
        errs.invalid(
            &child(path, "parallelism"),
            parallelism,
            &format!(
                "must be less than or equal to {INDEXED_LIMIT} when completion mode is Indexed"
            ),
        );
    }
    if let (Some(completions), Some(max_failed)) = (completions, max_failed)
        && max_failed > completions
    {
        errs.invalid(
            &child(path, "maxFailedIndexes"),
            max_failed,
            "must be less than or equal to completions",
        );
    }
    if let Some(max_failed) = max_failed.filter(|m| *m > INDEXED_LIMIT) {
        errs.invalid(
            &child(path, "maxFailedIndexes"),
            max_failed,
            &format!("must be less than or equal to {INDEXED_LIMIT}"),
        );
    }
    if completions.is_some_and(|c| c > INDEXED_LIMIT) && int("backoffLimitPerIndex").is_some() {
        let high = format!(
            "must be less than or equal to {HIGH_COMPLETIONS_LIMIT} when completions are above {INDEXED_LIMIT} and used with backoff limit per index"
        );
        if max_failed.is_none() {
            errs.required(
                &child(path, "maxFailedIndexes"),
                &format!("must be specified when completions is above {INDEXED_LIMIT}"),
            );
        }
        if let Some(parallelism) = parallelism.filter(|p| *p > HIGH_COMPLETIONS_LIMIT) {
            errs.invalid(&child(path, "parallelism"), parallelism, &high);
        }
        if let Some(max_failed) = max_failed.filter(|m| *m > HIGH_COMPLETIONS_LIMIT) {
            errs.invalid(&child(path, "maxFailedIndexes"), max_failed, &high);
        }
    }
}

/// `validatePodFailurePolicy` and its rules.
fn pod_failure_policy(errs: &mut Errors, spec: &Value, policy: &Value, path: &str) {
    let rules = list(policy, "rules");
    let rules_path = child(path, "rules");
    if rules.len() > MAX_POD_FAILURE_POLICY_RULES {
        errs.too_many(&rules_path, rules.len(), MAX_POD_FAILURE_POLICY_RULES);
    }
    let pod = spec.pointer("/template/spec").unwrap_or(&Value::Null);
    let containers: HashSet<&str> = ["containers", "initContainers"]
        .into_iter()
        .flat_map(|field| list(pod, field))
        .map(|c| str_or_empty(c, "name"))
        .collect();
    for (i, rule) in rules.iter().enumerate() {
        let at = index(&rules_path, i);
        let action = str_or_empty(rule, "action");
        let action_path = child(&at, "action");
        match action {
            "" => errs.required(
                &action_path,
                r#"valid values: ["Count" "FailIndex" "FailJob" "Ignore"]"#,
            ),
            "FailIndex" if get(spec, "backoffLimitPerIndex").is_none() => {
                errs.invalid(&action_path, action, "requires the backoffLimitPerIndex to be set");
            }
            other if !FAILURE_POLICY_ACTIONS.contains(&other) => {
                errs.not_supported(&action_path, other, &FAILURE_POLICY_ACTIONS);
            }
            _ => {}
        }
        let exit_codes = get(rule, "onExitCodes");
        if let Some(exit_codes) = exit_codes {
            on_exit_codes(errs, exit_codes, &child(&at, "onExitCodes"), &containers);
        }
        let conditions = list(rule, "onPodConditions");
        if !conditions.is_empty() {
            on_pod_conditions(errs, conditions, &child(&at, "onPodConditions"));
        }
        match (exit_codes.is_some(), conditions.is_empty()) {
            (true, false) => errs.invalid_omitted(
                &at,
                "specifying both OnExitCodes and OnPodConditions is not supported",
            ),
            (false, true) => errs.invalid_omitted(
                &at,
                "specifying one of OnExitCodes and OnPodConditions is required",
            ),
            _ => {}
        }
    }
}

/// `validatePodFailurePolicyRuleOnExitCodes`.
fn on_exit_codes(errs: &mut Errors, requirement: &Value, path: &str, containers: &HashSet<&str>) {
    let operator = str_or_empty(requirement, "operator");
    match operator {
        "" => errs.required(&child(path, "operator"), r#"valid values: ["In" "NotIn"]"#),
        "In" | "NotIn" => {}
        other => errs.not_supported(&child(path, "operator"), other, &["In", "NotIn"]),
    }
    if let Some(container) = str_of(requirement, "containerName")
        && !containers.contains(container)
    {
        errs.invalid(
            &child(path, "containerName"),
            container,
            "must be one of the container or initContainer names in the pod template",
        );
    }
    let values: Vec<i64> = list(requirement, "values").iter().filter_map(Value::as_i64).collect();
    let values_path = child(path, "values");
    let shown = || Shown::Raw(format!("[]int32{{{}}}", join(&values)));
    if values.is_empty() {
        errs.invalid(
            &values_path,
            Shown::Raw("[]int32(nil)".to_owned()),
            "at least one value is required",
        );
    } else if values.len() > MAX_EXIT_CODE_VALUES {
        errs.too_many(&values_path, values.len(), MAX_EXIT_CODE_VALUES);
    }
    let mut unique = HashSet::new();
    for (j, value) in values.iter().enumerate() {
        let at = index(&values_path, j);
        if operator == "In" && *value == 0 {
            errs.invalid(&at, *value, "must not be 0 for the In operator");
        }
        if !unique.insert(*value) {
            errs.duplicate(&at, *value);
        }
    }
    if values.windows(2).any(|pair| pair[0] > pair[1]) {
        errs.invalid(&values_path, shown(), "must be ordered");
    }
}

fn join(values: &[i64]) -> String {
    values.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// `validatePodFailurePolicyRuleOnPodConditions`.
fn on_pod_conditions(errs: &mut Errors, patterns: &[Value], path: &str) {
    if patterns.len() > MAX_POD_CONDITION_PATTERNS {
        errs.too_many(path, patterns.len(), MAX_POD_CONDITION_PATTERNS);
    }
    for (j, pattern) in patterns.iter().enumerate() {
        let at = index(path, j);
        let kind = str_or_empty(pattern, "type");
        for msg in meta::qualified_name(kind) {
            errs.invalid(&child(&at, "type"), kind, &msg);
        }
        match str_or_empty(pattern, "status") {
            "" => {
                errs.required(&child(&at, "status"), r#"valid values: ["False" "True" "Unknown"]"#)
            }
            "True" | "False" | "Unknown" => {}
            other => {
                errs.not_supported(&child(&at, "status"), other, &["False", "True", "Unknown"]);
            }
        }
    }
}

/// `validateSuccessPolicy`: rules of succeeded counts and index ranges within the completions.
fn success_policy(errs: &mut Errors, spec: &Value, policy: &Value, path: &str) {
    let rules = list(policy, "rules");
    let rules_path = child(path, "rules");
    if rules.is_empty() {
        errs.required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        );
    }
    if rules.len() > MAX_SUCCESS_POLICY_RULES {
        errs.too_many(&rules_path, rules.len(), MAX_SUCCESS_POLICY_RULES);
    }
    let completions = get(spec, "completions").and_then(Value::as_i64).unwrap_or(0);
    for (i, rule) in rules.iter().enumerate() {
        let at = index(&rules_path, i);
        let count = get(rule, "succeededCount").and_then(Value::as_i64);
        let indexes = str_of(rule, "succeededIndexes");
        if count.is_none() && indexes.is_none() {
            errs.required(
                &at,
                "at least one of succeededCount or succeededIndexes must be specified",
            );
        }
        let mut total = 0;
        if let Some(indexes) = indexes {
            match count_indexes(indexes, completions) {
                Ok(n) => total = n,
                Err(error) => errs.invalid(
                    &child(&at, "succeededIndexes"),
                    indexes,
                    &format!("error parsing succeededIndexes: {error}"),
                ),
            }
        }
        if let Some(count) = count {
            let count_path = child(&at, "succeededCount");
            errs.nonnegative(&count_path, get(rule, "succeededCount"));
            if count > completions {
                errs.invalid(
                    &count_path,
                    count,
                    &format!(
                        "must be less than or equal to {completions} (the number of specified completions)"
                    ),
                );
            }
            if indexes.is_some() && count > total {
                errs.invalid(
                    &count_path,
                    count,
                    &format!(
                        "must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)"
                    ),
                );
            }
        }
    }
}

/// `validateIndexesFormat`: comma-separated `x` or `x-y` intervals below `completions`, in
/// increasing order without overlaps; how many indexes they hold.
fn count_indexes(indexes: &str, completions: i64) -> Result<i64, String> {
    if indexes.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i64> = None;
    let mut total = 0;
    for interval in indexes.split(',') {
        let (x, y) = parse_index_interval(interval, completions)?;
        if let Some(last) = last
            && last >= x
        {
            return Err(format!("non-increasing order, previous: {last}, current: {x}"));
        }
        total += y - x + 1;
        last = Some(y);
    }
    Ok(total)
}

/// `parseIndexInterval`: `x` or `x-y` with `x < y`, both below `completions` (`strconv.Atoi`
/// takes a leading sign, which only `+` can be here).
fn parse_index_interval(interval: &str, completions: i64) -> Result<(i64, i64), String> {
    let limits: Vec<&str> = interval.split('-').collect();
    if limits.len() > 2 {
        return Err(format!(
            "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
            super::go_quote(interval)
        ));
    }
    let limit = |text: &str| -> Result<i64, String> {
        let x: i64 = text.parse().map_err(|_| {
            format!("cannot convert string to integer for index: {}", super::go_quote(text))
        })?;
        if x >= completions {
            return Err(format!("too large index: {}", super::go_quote(text)));
        }
        Ok(x)
    };
    let x = limit(limits[0])?;
    let Some(second) = limits.get(1) else { return Ok((x, x)) };
    let y = limit(second)?;
    if x >= y {
        return Err(format!("non-increasing order, previous: {x}, current: {y}"));
    }
    Ok((x, y))
}

/// `validateFailedIndexesNotOverlapCompleted`: walks both interval lists in order, skipping
/// intervals that do not parse (their format errors are reported on their own).
fn indexes_overlap(completed: &str, failed: &str, completions: i64) -> Option<String> {
    if completed.is_empty() || failed.is_empty() {
        return None;
    }
    let completed: Vec<&str> = completed.split(',').collect();
    let failed: Vec<&str> = failed.split(',').collect();
    let parse = |interval: &str| parse_index_interval(interval, completions).ok();
    let (mut completed_at, mut failed_at) = (0, 0);
    let mut completed_interval = parse(completed[0]);
    let mut failed_interval = parse(failed[0]);
    while completed_at < completed.len() && failed_at < failed.len() {
        match (completed_interval, failed_interval) {
            (None, _) => {
                completed_at += 1;
                if completed_at < completed.len() {
                    completed_interval = parse(completed[completed_at]);
                }
            }
            (_, None) => {
                failed_at += 1;
                if failed_at < failed.len() {
                    failed_interval = parse(failed[failed_at]);
                }
            }
            (Some((cx, cy)), Some((fx, fy))) => {
                if cx <= fy && fx <= cy {
                    return Some(format!(
                        "failedIndexes and completedIndexes overlap at index: {}",
                        cx.max(fx)
                    ));
                }
                if cx <= fx {
                    completed_at += 1;
                    if completed_at < completed.len() {
                        completed_interval = parse(completed[completed_at]);
                    }
                } else {
                    failed_at += 1;
                    if failed_at < failed.len() {
                        failed_interval = parse(failed[failed_at]);
                    }
                }
            }
        }
    }
    None
}

/// `validatePodTemplateUpdate`: the template is immutable, but for its scheduling directives
/// (node affinity, node selector, tolerations, labels, annotations, scheduling gates) while the
/// job is suspended and has never started.
fn template_update(errs: &mut Errors, spec: &Value, old_spec: &Value, old: &Value) {
    let template = get(spec, "template");
    let old_template = get(old_spec, "template");
    let suspended = old_spec.get("suspend") == Some(&Value::Bool(true));
    let not_started = old.pointer("/status/startTime").is_none_or(Value::is_null);
    let same = if suspended && not_started {
        let strip = |template: Option<&Value>| {
            let mut template = template.cloned().unwrap_or(Value::Null);
            if let Some(meta) = template.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("labels");
                meta.remove("annotations");
            }
            if let Some(pod) = template.get_mut("spec").and_then(Value::as_object_mut) {
                for field in ["nodeSelector", "tolerations", "schedulingGates"] {
                    pod.remove(field);
                }
                if let Some(affinity) = pod.get_mut("affinity").and_then(Value::as_object_mut) {
                    affinity.remove("nodeAffinity");
                }
                if pod.get("affinity").and_then(Value::as_object).is_some_and(|a| a.is_empty()) {
                    pod.remove("affinity");
                }
            }
            template
        };
        strip(template) == strip(old_template)
    } else {
        super::same(template, old_template)
    };
    if !same {
        errs.invalid(
            "spec.template",
            Shown::Raw("core.PodTemplateSpec{…}".to_owned()),
            "field is immutable",
        );
    }
}

/// `validateCronJobSpec` (`old` on update: a `TZ=` schedule and a time zone it had stay).
fn cron_job_spec(errs: &mut Errors, spec: &Value, old: Option<&Value>) {
    let schedule = str_or_empty(spec, "schedule");
    let zone = str_of(spec, "timeZone");
    if schedule.is_empty() {
        errs.required("spec.schedule", "");
    } else {
        if let Err(error) = crate::cron::Schedule::parse(schedule) {
            errs.invalid("spec.schedule", schedule, &error);
        }
        let tz_allowed = old.is_some_and(|old| str_or_empty(old, "schedule").contains("TZ"));
        if schedule.contains("TZ") {
            if !tz_allowed {
                errs.invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                );
            } else if zone.is_some() {
                errs.invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                );
            }
        }
    }
    errs.nonnegative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"));
    if old.is_none_or(|old| str_of(old, "timeZone") != zone)
        && let Some(zone) = zone
    {
        time_zone(errs, zone);
    }
    match str_or_empty(spec, "concurrencyPolicy") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.required("spec.concurrencyPolicy", ""),
        other => {
            errs.not_supported("spec.concurrencyPolicy", other, &["Allow", "Forbid", "Replace"]);
        }
    }
    // `ValidateJobTemplateSpec`.
    let job = spec.pointer("/jobTemplate/spec").unwrap_or(&Value::Null);
    job_spec_fields(errs, job, "spec.jobTemplate.spec");
    if let Some(selector) = get(job, "selector") {
        errs.invalid(
            "spec.jobTemplate.spec.selector",
            meta::show_selector(selector),
            "`selector` will be auto-generated",
        );
    }
    if job.get("manualSelector") == Some(&Value::Bool(true)) {
        errs.not_supported(
            "spec.jobTemplate.spec.manualSelector",
            Shown::Bool(true),
            &["nil", "false"],
        );
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        errs.nonnegative(&child("spec", field), spec.get(field));
    }
}

/// `validateTimeZone`: an IANA name the time zone database has, not `Local`.
fn time_zone(errs: &mut Errors, zone: &str) {
    if zone.is_empty() {
        errs.invalid("spec.timeZone", zone, "timeZone must be nil or non-empty string");
        return;
    }
    let valid_part = |part: &str| {
        !matches!(part, "." | "..")
            && !part.starts_with('-')
            && (1..=14).contains(&part.len())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
    };
    if !zone.split('/').all(valid_part) {
        errs.invalid("spec.timeZone", zone, &format!("unknown time zone {zone}"));
        return;
    }
    if zone.eq_ignore_ascii_case("Local") {
        errs.invalid(
            "spec.timeZone",
            zone,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        );
    }
    // Go's `time.LoadLocation` takes "Local" (and "UTC") without the database.
    if zone != "Local" && jiff::tz::TimeZone::get(zone).is_err() {
        errs.invalid("spec.timeZone", zone, &format!("unknown time zone {zone}"));
    }
}
