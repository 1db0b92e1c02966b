//! `syncCronJob`, `cleanupFinishedJobs` and utils.go's schedule math as pure functions of a
//! CronJob, the Jobs it controls and the time. Reading order: [`cleanup`] (the history limits),
//! [`observe`] (the active list and `lastSuccessfulTime` from the Jobs), [`schedule`] (what to
//! run now and when to look again), with [`most_recent_schedule_time`] underneath.

use berth_api::cron::Schedule;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp, Zoned};

use crate::EventType;
use crate::meta::{controller_of, name_of, namespace_of, new_controller_ref};

/// `batchv1.CronJobScheduledTimestampAnnotation`: the scheduled time of a Job, RFC 3339 in the
/// CronJob's time zone.
pub(crate) const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// `nextScheduleDelta`: the requeue lands this long after the schedule (clock skew).
const NEXT_SCHEDULE_DELTA: SignedDuration = SignedDuration::from_millis(100);

/// More missed schedules than this are `manyMissed` (`TooManyMissedTimes`).
const MANY_MISSED: i64 = 100;

/// An event the controller records about the CronJob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) type_: EventType,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

fn normal(reason: &'static str, message: String) -> Event {
    Event { type_: EventType::Normal, reason, message }
}

fn warning(reason: &'static str, message: String) -> Event {
    Event { type_: EventType::Warning, reason, message }
}

/// `jobutil.FinishedCondition`: `Complete` or `Failed` when a condition of that type is True.
pub(crate) fn finished(job: &Job) -> Option<&str> {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    conditions
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

/// The CronJob a Job belongs to (`getJobsToBeReconciled`): the name in its controller
/// reference, when that is a CronJob (upstream checks the name only).
pub(crate) fn cron_job_of(job: &Job) -> Option<&str> {
    controller_of(&job.metadata).filter(|r| r.kind == "CronJob").map(|r| r.name.as_str())
}

/// A Job to delete: by name, with its uid as precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Victim {
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl Victim {
    fn of(job: &Job) -> Victim {
        Victim {
            name: name_of(&job.metadata).to_owned(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
        }
    }
}

/// `cleanupFinishedJobs`: the finished Jobs beyond `successfulJobsHistoryLimit` and
/// `failedJobsHistoryLimit`, oldest first (`byJobStartTime`: by `status.startTime`, those
/// without one last, then by name).
pub(crate) fn cleanup(cron_job: &CronJob, jobs: &[&Job]) -> Vec<Victim> {
    let Some(spec) = cron_job.spec.as_ref() else { return Vec::new() };
    let (mut succeeded, mut failed): (Vec<&Job>, Vec<&Job>) = (Vec::new(), Vec::new());
    for job in jobs {
        match finished(job) {
            Some("Complete") => succeeded.push(job),
            Some(_) => failed.push(job),
            None => {}
        }
    }
    let mut victims = Vec::new();
    for (mut jobs, limit) in
        [(succeeded, spec.successful_jobs_history_limit), (failed, spec.failed_jobs_history_limit)]
    {
        let Some(limit) = limit else { continue };
        let surplus = jobs.len().saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        if surplus == 0 {
            continue;
        }
        jobs.sort_by(|a, b| by_start_time(a, b));
        victims.extend(jobs[..surplus].iter().map(|j| Victim::of(j)));
    }
    victims
}

/// `byJobStartTime.Less` as an ordering.
fn by_start_time(a: &Job, b: &Job) -> std::cmp::Ordering {
    let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
    match (start(a), start(b)) {
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (x, y) if x == y => name_of(&a.metadata).cmp(name_of(&b.metadata)),
        (x, y) => x.cmp(&y),
    }
}

/// Removes the Job with `uid` from the active list (`deleteFromActiveList`); an empty list is
/// no list, as Go's `omitempty` writes it.
pub(crate) fn delete_from_active(status: &mut CronJobStatus, uid: &str) {
    if let Some(active) = status.active.as_mut() {
        active.retain(|r| r.uid.as_deref() != Some(uid));
        if active.is_empty() {
            status.active = None;
        }
    }
}

fn in_active(status: &CronJobStatus, uid: &str) -> bool {
    status.active.iter().flatten().any(|r| r.uid.as_deref() == Some(uid))
}

/// The first half of `syncCronJob`: what the Jobs say about `status` (already through the
/// cleanup). Finished Jobs leave the active list (`SawCompletedJob`), a succeeded one's
/// `completionTime` advances `lastSuccessfulTime`, an unfinished Job the list doesn't know is
/// reported (`UnexpectedJob`), and active references whose Job is gone are dropped
/// (`MissingJob`). Returns the events.
pub(crate) fn observe(status: &mut CronJobStatus, jobs: &[&Job]) -> Vec<Event> {
    let mut events = Vec::new();
    for job in jobs {
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        let found = in_active(status, uid);
        let name = name_of(&job.metadata);
        match finished(job) {
            None if !found => events.push(warning(
                "UnexpectedJob",
                format!("Saw a job that the controller did not create or forgot: {name}"),
            )),
            None => {}
            Some(condition) => {
                if found {
                    delete_from_active(status, uid);
                    events.push(normal(
                        "SawCompletedJob",
                        format!("Saw completed job: {name}, condition: {condition}"),
                    ));
                }
                if condition == "Complete" {
                    let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
                    match (&status.last_successful_time, &completed) {
                        (None, _) => status.last_successful_time = completed,
                        (Some(last), Some(at)) if at.0 > last.0 => {
                            status.last_successful_time = completed;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let missing: Vec<ObjectReference> = status
        .active
        .iter()
        .flatten()
        .filter(|r| !jobs.iter().any(|j| j.metadata.uid.is_some() && j.metadata.uid == r.uid))
        .cloned()
        .collect();
    for reference in missing {
        let name = reference.name.as_deref().unwrap_or_default();
        events.push(normal("MissingJob", format!("Active job went missing: {name}")));
        delete_from_active(status, reference.uid.as_deref().unwrap_or_default());
    }
    events
}

/// What the second half of `syncCronJob` decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub(crate) events: Vec<Event>,
    pub(crate) action: Action,
    /// When to sync the CronJob again (`nextScheduleTimeDuration`, as an instant), assuming the
    /// action succeeds; `None`: only on a change.
    pub(crate) requeue: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Nothing,
    /// Start `job` for `scheduled`, after deleting the active Jobs in `replace`
    /// (`concurrencyPolicy: Replace`).
    Run {
        replace: Vec<ObjectReference>,
        job: Box<Job>,
        scheduled: Timestamp,
    },
}

impl Decision {
    fn nothing(events: Vec<Event>, requeue: Option<Timestamp>) -> Decision {
        Decision { events, action: Action::Nothing, requeue }
    }
}

/// The zone the schedule is read in: `spec.timeZone`, or the controller's (UTC).
fn time_zone(cron_job: &CronJob) -> Result<TimeZone, Event> {
    match cron_job.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        None | Some("") => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|_| {
            warning(
                "UnknownTimeZone",
                format!("invalid timeZone: {name:?}: unknown time zone {name}"),
            )
        }),
    }
}

/// The second half of `syncCronJob` on `status` (after [`observe`]) at `now`: nothing for a
/// CronJob being deleted, suspended, or with a bad zone or schedule; otherwise the most recent
/// unmet schedule time, unless it is past `startingDeadlineSeconds` (`MissSchedule`), already
/// started, or forbidden by `concurrencyPolicy: Forbid` while a Job is active
/// (`JobAlreadyActive`).
pub(crate) fn schedule(cron_job: &CronJob, status: &CronJobStatus, now: Timestamp) -> Decision {
    let mut events = Vec::new();
    let Some(spec) = cron_job.spec.as_ref() else { return Decision::nothing(events, None) };
    if cron_job.metadata.deletion_timestamp.is_some() {
        return Decision::nothing(events, None);
    }
    let zone = match time_zone(cron_job) {
        Ok(zone) => zone,
        Err(event) => return Decision::nothing(vec![event], None),
    };
    if spec.suspend == Some(true) {
        return Decision::nothing(events, None);
    }
    // `formatSchedule`: a `TZ=` in the schedule is its own zone (validation refuses new ones).
    if spec.schedule.contains("TZ") {
        events.push(warning(
            "UnsupportedSchedule",
            format!(
                "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                spec.schedule
            ),
        ));
    }
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(schedule) => schedule,
        Err(error) => {
            events.push(warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {error}", spec.schedule),
            ));
            return Decision::nothing(events, None);
        }
    };
    let now_z = now.to_zoned(zone.clone());
    let earliest = earliest_time(cron_job, status, &now_z, &zone);
    let deadline = spec.starting_deadline_seconds;
    let scheduled = match next_schedule_time(&earliest, &now_z, &schedule, deadline) {
        Err(error) => {
            events.push(warning(
                "InvalidSchedule",
                format!("invalid schedule: {} : {error}", spec.schedule),
            ));
            return Decision::nothing(events, None);
        }
        Ok((None, _)) => {
            return Decision::nothing(events, requeue_at(&earliest, &now_z, &schedule));
        }
        Ok((Some(scheduled), many)) => {
            if many {
                events.push(warning(
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".to_owned(),
                ));
            }
            scheduled
        }
    };
    let requeue = requeue_at(&earliest, &now_z, &schedule);
    let too_late = deadline
        .is_some_and(|seconds| scheduled.timestamp() + SignedDuration::from_secs(seconds) < now);
    if too_late {
        let at = scheduled.timestamp().to_zoned(TimeZone::UTC);
        events.push(warning(
            "MissSchedule",
            format!(
                "Missed scheduled time to start a job: {}",
                at.strftime("%a, %d %b %Y %H:%M:%S +0000")
            ),
        ));
        return Decision::nothing(events, requeue);
    }
    let name = job_name(cron_job, scheduled.timestamp());
    let namespace = namespace_of(&cron_job.metadata);
    let started =
        status.active.iter().flatten().any(|r| {
            r.name.as_deref() == Some(name.as_str())
                && r.namespace.as_deref().unwrap_or_default() == namespace
        }) || status.last_schedule_time.as_ref().is_some_and(|t| t.0 == scheduled.timestamp());
    if started {
        return Decision::nothing(events, requeue);
    }
    let active = status.active.clone().unwrap_or_default();
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if policy == "Forbid" && !active.is_empty() {
        events.push(normal(
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid"
                .to_owned(),
        ));
        return Decision::nothing(events, requeue);
    }
    let replace = if policy == "Replace" { active } else { Vec::new() };
    let job = job_from_template(cron_job, &scheduled.timestamp().to_zoned(zone));
    // The requeue once this run is recorded as `lastScheduleTime`.
    let after = scheduled.timestamp().to_zoned(now_z.time_zone().clone());
    let requeue = requeue_at(&after, &now_z, &schedule);
    Decision {
        events,
        action: Action::Run { replace, job: Box::new(job), scheduled: scheduled.timestamp() },
        requeue,
    }
}

/// `lastScheduleTime`, or the creation time, in `zone`.
fn earliest_time(
    cron_job: &CronJob,
    status: &CronJobStatus,
    now: &Zoned,
    zone: &TimeZone,
) -> Zoned {
    status
        .last_schedule_time
        .as_ref()
        .or(cron_job.metadata.creation_timestamp.as_ref())
        .map(|t| t.0.to_zoned(zone.clone()))
        .unwrap_or_else(|| now.clone())
}

/// How many schedules were missed since the earliest time (`missedSchedulesType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missed {
    None,
    Few,
    Many,
}

/// `mostRecentScheduleTime`: from `earliest` (`lastScheduleTime` or the creation time, moved
/// up to `now − startingDeadlineSeconds` when `deadline` is given), the most recent schedule
/// time not after `now` (`None`: none since `earliest`), and how many were missed — counted,
/// as upstream, by the interval between the first two. The error is upstream's for a schedule
/// that never fires twice (`59 23 31 2 *`). Returns the earliest time used too.
pub(crate) fn most_recent_schedule_time(
    earliest: &Zoned,
    now: &Zoned,
    schedule: &Schedule,
    deadline: Option<i64>,
) -> Result<(Zoned, Option<Zoned>, Missed), String> {
    const TOO_CLOSE: &str = "time difference between two schedules is less than 1 second";
    let mut earliest = earliest.clone();
    if let Some(seconds) = deadline {
        let scheduling_deadline =
            now.checked_sub(SignedDuration::from_secs(seconds)).map_err(|e| e.to_string())?;
        if scheduling_deadline.timestamp() > earliest.timestamp() {
            earliest = scheduling_deadline;
        }
    }
    let Some(t1) = schedule.next(&earliest) else { return Err(TOO_CLOSE.to_owned()) };
    if now.timestamp() < t1.timestamp() {
        return Ok((earliest, None, Missed::None));
    }
    let Some(t2) = schedule.next(&t1) else { return Err(TOO_CLOSE.to_owned()) };
    if now.timestamp() < t2.timestamp() {
        return Ok((earliest, Some(t1), Missed::None));
    }
    // `t2.Sub(t1).Round(time.Second)` in whole seconds.
    let between = t2.timestamp().duration_since(t1.timestamp());
    let between = (between.as_nanos() + 500_000_000).div_euclid(1_000_000_000) as i64;
    if between < 1 {
        return Err(TOO_CLOSE.to_owned());
    }
    let elapsed = now.timestamp().duration_since(t1.timestamp()).as_secs();
    let missed_count = elapsed / between + 1;
    let potential_earliest = t1
        .checked_add(SignedDuration::from_secs((missed_count - 2) * between))
        .map_err(|e| e.to_string())?;
    let mut most_recent = None;
    let mut next = schedule.next(&potential_earliest);
    while let Some(t) = next {
        if t.timestamp() > now.timestamp() {
            break;
        }
        next = schedule.next(&t);
        most_recent = Some(t);
    }
    let missed = if missed_count > MANY_MISSED { Missed::Many } else { Missed::Few };
    Ok((earliest, most_recent, missed))
}

/// `nextScheduleTime`: the most recent unmet schedule time (`None`: none), and whether more
/// than 100 were missed (`TooManyMissedTimes`).
fn next_schedule_time(
    earliest: &Zoned,
    now: &Zoned,
    schedule: &Schedule,
    deadline: Option<i64>,
) -> Result<(Option<Zoned>, bool), String> {
    let (_, most_recent, missed) = most_recent_schedule_time(earliest, now, schedule, deadline)?;
    match most_recent {
        Some(t) if t.timestamp() <= now.timestamp() => Ok((Some(t), missed == Missed::Many)),
        _ => Ok((None, false)),
    }
}

/// `nextScheduleTimeDuration` as an instant: the schedule after the most recent one (after
/// `now` if several were missed, after `earliest` if none), plus 100 ms; `None` if the schedule
/// never fires again.
fn requeue_at(earliest: &Zoned, now: &Zoned, schedule: &Schedule) -> Option<Timestamp> {
    let from = match most_recent_schedule_time(earliest, now, schedule, None) {
        Err(_) => now.clone(),
        Ok((_, Some(most_recent), _)) => most_recent,
        Ok((earliest, None, Missed::None)) => earliest,
        Ok((_, None, _)) => now.clone(),
    };
    schedule.next(&from).map(|t| t.timestamp() + NEXT_SCHEDULE_DELTA)
}

/// `getJobName`: `<cronjob>-<scheduled time in minutes since the epoch>` (`getTimeHashInMinutes`).
pub(crate) fn job_name(cron_job: &CronJob, scheduled: Timestamp) -> String {
    format!("{}-{}", name_of(&cron_job.metadata), scheduled.as_second() / 60)
}

/// `getJobFromTemplate2`: the Job for `scheduled` (in the CronJob's zone): the template's
/// labels, annotations and spec, the scheduled-timestamp annotation, the controller reference.
pub(crate) fn job_from_template(cron_job: &CronJob, scheduled: &Zoned) -> Job {
    let template = cron_job.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
    let metadata = template.metadata.unwrap_or_default();
    let mut annotations = metadata.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.to_owned(), go_rfc3339(scheduled));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cron_job, scheduled.timestamp())),
            namespace: cron_job.metadata.namespace.clone(),
            labels: metadata.labels.filter(|l| !l.is_empty()),
            annotations: Some(annotations),
            owner_references: Some(vec![new_controller_ref(cron_job)]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Go's `time.RFC3339` format: seconds, `Z` for a zero offset, `±hh:mm` otherwise.
pub(crate) fn go_rfc3339(at: &Zoned) -> String {
    let base = at.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let offset = at.offset().seconds();
    if offset == 0 {
        format!("{base}Z")
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.unsigned_abs() / 60;
        format!("{base}{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }
}

/// The status after the run of `job` (as created or found) for `scheduled`: in the active list,
/// `lastScheduleTime` set.
pub(crate) fn record_run(status: &mut CronJobStatus, job: ObjectReference, scheduled: Timestamp) {
    status.active.get_or_insert_with(Vec::new).push(job);
    status.last_schedule_time = Some(Time(scheduled));
}
