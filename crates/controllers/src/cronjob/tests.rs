//! The pure plan: schedule math with a fixed clock, the Job from the template, concurrency
//! policies, active tracking and history cleanup.

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{Timestamp, Zoned};
use serde_json::{Value, json};

use super::plan::{self, Action, Missed};
use berth_api::cron::Schedule;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn utc(text: &str) -> Zoned {
    at(text).to_zoned(TimeZone::UTC)
}

/// A CronJob `hello` in `default`, created at 10:00 UTC, with `spec` merged over defaults.
fn cron_job(spec: Value, status: Value) -> CronJob {
    let mut base = json!({
        "metadata": { "name": "hello", "namespace": "default", "uid": "cj-uid",
                      "creationTimestamp": "2026-01-01T10:00:00Z" },
        "spec": {
            "schedule": "* * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": false,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": { "labels": { "app": "hello" }, "annotations": { "note": "x" } },
                "spec": { "template": { "spec": { "restartPolicy": "Never",
                    "containers": [{ "name": "main", "image": "busybox" }] } } },
            },
        },
        "status": status,
    });
    if let (Some(base), Value::Object(spec)) = (base["spec"].as_object_mut(), spec) {
        base.extend(spec);
    }
    serde_json::from_value(base).unwrap()
}

fn status_of(cron_job: &CronJob) -> CronJobStatus {
    cron_job.status.clone().unwrap_or_default()
}

/// A Job of `hello` named `name`: finished as `condition` (Complete/Failed) or running.
fn job(name: &str, condition: Option<&str>, start: Option<&str>, completion: Option<&str>) -> Job {
    let conditions: Vec<Value> =
        condition.map(|c| json!({ "type": c, "status": "True" })).into_iter().collect();
    serde_json::from_value(json!({
        "metadata": { "name": name, "namespace": "default", "uid": format!("{name}-uid"),
                      "ownerReferences": [{ "apiVersion": "batch/v1", "kind": "CronJob",
                          "name": "hello", "uid": "cj-uid", "controller": true }] },
        "status": { "conditions": conditions, "startTime": start, "completionTime": completion },
    }))
    .unwrap()
}

fn reference(name: &str) -> Value {
    json!({ "apiVersion": "batch/v1", "kind": "Job", "namespace": "default", "name": name,
            "uid": format!("{name}-uid") })
}

fn reasons(events: &[plan::Event]) -> Vec<&str> {
    events.iter().map(|e| e.reason).collect()
}

fn run_of(decision: &plan::Decision) -> (&[ObjectReference], &Job, Timestamp) {
    match &decision.action {
        Action::Run { replace, job, scheduled } => (replace, job, *scheduled),
        Action::Nothing => panic!("expected a run: {decision:?}"),
    }
}

#[test]
fn the_most_recent_unmet_time_is_the_last_boundary() {
    let every_minute = Schedule::parse("* * * * *").unwrap();
    let now = utc("2026-01-01T10:03:30Z");
    // Three minutes missed: the last boundary, a few missed.
    let (_, recent, missed) =
        plan::most_recent_schedule_time(&utc("2026-01-01T10:00:10Z"), &now, &every_minute, None)
            .unwrap();
    assert_eq!(recent.unwrap().timestamp(), at("2026-01-01T10:03:00Z"));
    assert_eq!(missed, Missed::Few);
    // One due: it, none missed.
    let (_, recent, missed) =
        plan::most_recent_schedule_time(&utc("2026-01-01T10:02:30Z"), &now, &every_minute, None)
            .unwrap();
    assert_eq!(recent.unwrap().timestamp(), at("2026-01-01T10:03:00Z"));
    assert_eq!(missed, Missed::None);
    // None due yet.
    let (_, recent, _) =
        plan::most_recent_schedule_time(&utc("2026-01-01T10:03:00Z"), &now, &every_minute, None)
            .unwrap();
    assert_eq!(recent, None);
    // More than 100 missed: many.
    let (_, recent, missed) =
        plan::most_recent_schedule_time(&utc("2026-01-01T00:00:00Z"), &now, &every_minute, None)
            .unwrap();
    assert_eq!(recent.unwrap().timestamp(), at("2026-01-01T10:03:00Z"));
    assert_eq!(missed, Missed::Many);
    // A starting deadline moves the earliest time up: 200 s back leaves few missed.
    let (earliest, _, missed) = plan::most_recent_schedule_time(
        &utc("2026-01-01T00:00:00Z"),
        &now,
        &every_minute,
        Some(200),
    )
    .unwrap();
    assert_eq!(earliest.timestamp(), at("2026-01-01T10:00:10Z"));
    assert_eq!(missed, Missed::Few);
    // Irregular schedules: hourly at :30 between 6 and 16 every 4 hours, weekdays.
    let irregular = Schedule::parse("30 6-16/4 * * 1-5").unwrap();
    let (_, recent, _) = plan::most_recent_schedule_time(
        &utc("2026-01-01T00:00:00Z"), // a Thursday
        &utc("2026-01-05T12:00:00Z"), // the Monday after
        &irregular,
        None,
    )
    .unwrap();
    assert_eq!(recent.unwrap().timestamp(), at("2026-01-05T10:30:00Z"));
    // `@every` counts from the earliest time.
    let every = Schedule::parse("@every 90s").unwrap();
    let (_, recent, _) = plan::most_recent_schedule_time(
        &utc("2026-01-01T10:00:10Z"),
        &utc("2026-01-01T10:10:00Z"),
        &every,
        None,
    )
    .unwrap();
    assert_eq!(recent.unwrap().timestamp(), at("2026-01-01T10:09:10Z"));
    // A schedule that never fires twice is an error.
    let never = Schedule::parse("59 23 31 2 *").unwrap();
    let error = plan::most_recent_schedule_time(&utc("2026-01-01T00:00:00Z"), &now, &never, None)
        .unwrap_err();
    assert_eq!(error, "time difference between two schedules is less than 1 second");
}

#[test]
fn a_due_schedule_runs_a_job_named_by_its_minute() {
    let cj = cron_job(json!({}), json!({ "lastScheduleTime": "2026-01-01T10:00:00Z" }));
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:03:30Z"));
    let (replace, job, scheduled) = run_of(&decision);
    assert!(replace.is_empty());
    assert_eq!(scheduled, at("2026-01-01T10:03:00Z"));
    let minutes = at("2026-01-01T10:03:00Z").as_second() / 60;
    assert_eq!(job.metadata.name.as_deref(), Some(format!("hello-{minutes}").as_str()));
    assert_eq!(job.metadata.namespace.as_deref(), Some("default"));
    let labels = job.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("app").map(String::as_str), Some("hello"));
    let annotations = job.metadata.annotations.clone().unwrap();
    assert_eq!(annotations.get("note").map(String::as_str), Some("x"));
    assert_eq!(
        annotations.get(plan::SCHEDULED_TIMESTAMP).map(String::as_str),
        Some("2026-01-01T10:03:00Z")
    );
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("CronJob", "hello", "cj-uid")
    );
    assert_eq!((owner.controller, owner.block_owner_deletion), (Some(true), Some(true)));
    assert!(job.spec.is_some());
    // Next look: the minute after, plus 100 ms.
    assert_eq!(decision.requeue, Some(at("2026-01-01T10:04:00.1Z")));
    assert!(decision.events.is_empty());
}

#[test]
fn nothing_runs_before_the_first_schedule_but_a_requeue_at_it() {
    let cj = cron_job(json!({}), json!({}));
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:00:20Z"));
    assert_eq!(decision.action, Action::Nothing);
    assert_eq!(decision.requeue, Some(at("2026-01-01T10:01:00.1Z")));
    // From the creation time: the first boundary after it is due at 10:01.
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:01:00Z"));
    assert_eq!(run_of(&decision).2, at("2026-01-01T10:01:00Z"));
}

#[test]
fn the_time_zone_reads_the_schedule_and_the_annotation() {
    // 9:00 every day in Tokyo (UTC+9) is 00:00 UTC.
    let cj = cron_job(
        json!({ "schedule": "0 9 * * *", "timeZone": "Asia/Tokyo" }),
        json!({ "lastScheduleTime": "2025-12-31T00:00:00Z" }),
    );
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T00:00:30Z"));
    let (_, job, scheduled) = run_of(&decision);
    assert_eq!(scheduled, at("2026-01-01T00:00:00Z"));
    let annotations = job.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations.get(plan::SCHEDULED_TIMESTAMP).map(String::as_str),
        Some("2026-01-01T09:00:00+09:00")
    );
    // An unknown zone runs nothing.
    let cj = cron_job(json!({ "timeZone": "Mars/Olympus" }), json!({}));
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T11:00:00Z"));
    assert_eq!(decision.action, Action::Nothing);
    assert_eq!(reasons(&decision.events), ["UnknownTimeZone"]);
}

#[test]
fn suspended_deleted_and_unparseable_cron_jobs_run_nothing() {
    let past = json!({ "lastScheduleTime": "2026-01-01T10:00:00Z" });
    let now = at("2026-01-01T10:05:00Z");
    let suspended = cron_job(json!({ "suspend": true }), past.clone());
    let decision = plan::schedule(&suspended, &status_of(&suspended), now);
    assert_eq!((decision.action, decision.requeue), (Action::Nothing, None));
    let mut deleted = cron_job(json!({}), past.clone());
    deleted.metadata.deletion_timestamp = Some(Time(now));
    assert_eq!(plan::schedule(&deleted, &status_of(&deleted), now).action, Action::Nothing);
    let bad = cron_job(json!({ "schedule": "* * *" }), past.clone());
    let decision = plan::schedule(&bad, &status_of(&bad), now);
    assert_eq!(decision.action, Action::Nothing);
    assert_eq!(reasons(&decision.events), ["UnparseableSchedule"]);
    assert!(decision.events[0].message.starts_with("unparseable schedule: \"* * *\" : "));
    let never = cron_job(json!({ "schedule": "59 23 31 2 *" }), past);
    let decision = plan::schedule(&never, &status_of(&never), now);
    assert_eq!(reasons(&decision.events), ["InvalidSchedule"]);
}

#[test]
fn deadlines_and_many_missed_times() {
    // Missed by more than the deadline: nothing, MissSchedule, requeue at the next.
    let cj = cron_job(
        json!({ "schedule": "0 * * * *", "startingDeadlineSeconds": 60 }),
        json!({ "lastScheduleTime": "2026-01-01T09:00:00Z" }),
    );
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:05:00Z"));
    assert_eq!(decision.action, Action::Nothing);
    assert_eq!(decision.requeue, Some(at("2026-01-01T11:00:00.1Z")));
    // The deadline window has no schedule in it, so nothing is even missed.
    assert!(decision.events.is_empty(), "{decision:?}");
    // A schedule within the deadline runs. (The deadline moves the earliest time up, so
    // upstream's `MissSchedule` check after it never fires.)
    let cj = cron_job(
        json!({ "schedule": "0 * * * *", "startingDeadlineSeconds": 400 }),
        json!({ "lastScheduleTime": "2026-01-01T09:00:00Z" }),
    );
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:05:00Z"));
    assert_eq!(run_of(&decision).2, at("2026-01-01T10:00:00Z"));
    // Too many missed: a warning, still the most recent one runs.
    let cj = cron_job(json!({}), json!({ "lastScheduleTime": "2026-01-01T00:00:00Z" }));
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:05:00Z"));
    assert_eq!(reasons(&decision.events), ["TooManyMissedTimes"]);
    assert_eq!(run_of(&decision).2, at("2026-01-01T10:05:00Z"));
}

#[test]
fn a_started_schedule_is_not_started_again() {
    let minutes = at("2026-01-01T10:03:00Z").as_second() / 60;
    let name = format!("hello-{minutes}");
    let cj = cron_job(
        json!({}),
        json!({ "active": [reference(&name)],
        "lastScheduleTime": "2026-01-01T10:00:00Z" }),
    );
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:03:30Z"));
    assert_eq!(decision.action, Action::Nothing);
    assert_eq!(decision.requeue, Some(at("2026-01-01T10:04:00.1Z")));
    let cj = cron_job(json!({}), json!({ "lastScheduleTime": "2026-01-01T10:03:00Z" }));
    let decision = plan::schedule(&cj, &status_of(&cj), at("2026-01-01T10:03:30Z"));
    assert_eq!(decision.action, Action::Nothing);
}

#[test]
fn concurrency_policies() {
    let status =
        json!({ "active": [reference("hello-1")], "lastScheduleTime": "2026-01-01T10:00:00Z" });
    let now = at("2026-01-01T10:01:10Z");
    let allow = cron_job(json!({}), status.clone());
    let decision = plan::schedule(&allow, &status_of(&allow), now);
    assert!(run_of(&decision).0.is_empty());
    let forbid = cron_job(json!({ "concurrencyPolicy": "Forbid" }), status.clone());
    let decision = plan::schedule(&forbid, &status_of(&forbid), now);
    assert_eq!(decision.action, Action::Nothing);
    assert_eq!(reasons(&decision.events), ["JobAlreadyActive"]);
    assert_eq!(decision.requeue, Some(at("2026-01-01T10:02:00.1Z")));
    let replace = cron_job(json!({ "concurrencyPolicy": "Replace" }), status);
    let decision = plan::schedule(&replace, &status_of(&replace), now);
    let (victims, _, _) = run_of(&decision);
    assert_eq!(victims.len(), 1);
    assert_eq!(victims[0].name.as_deref(), Some("hello-1"));
    // Forbid with nothing active runs.
    let forbid = cron_job(
        json!({ "concurrencyPolicy": "Forbid" }),
        json!({ "lastScheduleTime": "2026-01-01T10:00:00Z" }),
    );
    assert!(matches!(plan::schedule(&forbid, &status_of(&forbid), now).action, Action::Run { .. }));
}

#[test]
fn active_tracking() {
    let cj = cron_job(
        json!({}),
        json!({
            "active": [reference("done"), reference("running"), reference("gone")],
            "lastSuccessfulTime": "2026-01-01T09:00:00Z",
        }),
    );
    let done =
        job("done", Some("Complete"), Some("2026-01-01T09:59:00Z"), Some("2026-01-01T10:00:05Z"));
    let running = job("running", None, Some("2026-01-01T10:00:00Z"), None);
    let stranger = job("stranger", None, None, None);
    let failed = job("failed", Some("Failed"), None, None);
    let older = job("older", Some("Complete"), None, Some("2026-01-01T08:00:00Z"));
    let mut status = status_of(&cj);
    let events = plan::observe(&mut status, &[&done, &running, &stranger, &failed, &older]);
    assert_eq!(reasons(&events), ["SawCompletedJob", "UnexpectedJob", "MissingJob"]);
    assert_eq!(events[0].message, "Saw completed job: done, condition: Complete");
    assert_eq!(
        events[1].message,
        "Saw a job that the controller did not create or forgot: stranger"
    );
    assert_eq!(events[2].message, "Active job went missing: gone");
    let active: Vec<_> = status.active.iter().flatten().filter_map(|r| r.name.clone()).collect();
    assert_eq!(active, ["running"]);
    assert_eq!(status.last_successful_time, Some(Time(at("2026-01-01T10:00:05Z"))));
    // Everything finished: no list at all.
    let mut status = status_of(&cron_job(json!({}), json!({ "active": [reference("done")] })));
    plan::observe(&mut status, &[&done]);
    assert_eq!(status.active, None);
}

#[test]
fn history_cleanup_deletes_the_oldest_beyond_the_limits() {
    let cj = cron_job(
        json!({ "successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 0 }),
        json!({}),
    );
    let succeeded: Vec<Job> = [
        ("s3", Some("2026-01-01T10:03:00Z")),
        ("s1", Some("2026-01-01T10:01:00Z")),
        ("s-none", None),
        ("s2", Some("2026-01-01T10:02:00Z")),
    ]
    .into_iter()
    .map(|(name, start)| job(name, Some("Complete"), start, start))
    .collect();
    let failed = job("f1", Some("Failed"), Some("2026-01-01T10:00:00Z"), None);
    let running = job("r1", None, Some("2026-01-01T09:00:00Z"), None);
    let mut all: Vec<&Job> = succeeded.iter().collect();
    all.push(&failed);
    all.push(&running);
    let victims: Vec<String> = plan::cleanup(&cj, &all).into_iter().map(|v| v.name).collect();
    // Started first go first, those never started last; failed beyond 0.
    assert_eq!(victims, ["s1", "s2", "f1"]);
    // No limits: nothing.
    let unlimited = cron_job(
        json!({ "successfulJobsHistoryLimit": null, "failedJobsHistoryLimit": null }),
        json!({}),
    );
    assert!(plan::cleanup(&unlimited, &all).is_empty());
}

#[test]
fn jobs_are_ours_by_their_controller_reference() {
    let ours = job("ours", None, None, None);
    let mut other = job("other", None, None, None);
    other.metadata.owner_references.as_mut().unwrap()[0].name = "bye".to_owned();
    let mut free = job("free", None, None, None);
    free.metadata.owner_references = None;
    let owners: Vec<_> = [&ours, &other, &free].iter().map(|j| plan::cron_job_of(j)).collect();
    assert_eq!(owners, [Some("hello"), Some("bye"), None]);
    let mut replica_set = job("rs", None, None, None);
    replica_set.metadata.owner_references.as_mut().unwrap()[0].kind = "ReplicaSet".to_owned();
    assert_eq!(plan::cron_job_of(&replica_set), None);
}

#[test]
fn go_rfc3339_prints_z_for_utc_and_offsets_otherwise() {
    assert_eq!(plan::go_rfc3339(&utc("2026-07-01T12:00:00Z")), "2026-07-01T12:00:00Z");
    let india = at("2026-07-01T12:00:00Z").to_zoned(TimeZone::get("Asia/Kolkata").unwrap());
    assert_eq!(plan::go_rfc3339(&india), "2026-07-01T17:30:00+05:30");
    let ny = at("2026-01-01T12:00:00Z").to_zoned(TimeZone::get("America/New_York").unwrap());
    assert_eq!(plan::go_rfc3339(&ny), "2026-01-01T07:00:00-05:00");
}
