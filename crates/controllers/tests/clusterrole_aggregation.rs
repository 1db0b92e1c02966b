//! The ClusterRole aggregation controller on an in-process cluster: the bootstrap `view`,
//! `edit` and `admin` are filled through their chain of labels, a user's aggregated role
//! follows the roles its selector matches, and loses its rules (written by server-side
//! apply, so the apply without rules removes them) when nothing matches any more.

use berth_controllers::{Config, Controller, Controllers};
use berth_testkit::cluster::{Cluster, eventually};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, DeleteParams, PostParams};

async fn start() -> (Cluster, Controllers) {
    let cluster = Cluster::start().await;
    let config =
        Config { controllers: vec![Controller::ClusterRoleAggregation], ..Config::default() };
    let controllers = cluster.spawn_controllers(config);
    (cluster, controllers)
}

fn role(name: &str, labels: &[&str], rules: Vec<PolicyRule>) -> ClusterRole {
    serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|l| (*l, "true")).collect::<std::collections::BTreeMap<_, _>>(),
        },
        "rules": rules,
    }))
    .expect("a ClusterRole")
}

fn get(resource: &str) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec!["example.com".into()]),
        resources: Some(vec![resource.into()]),
        verbs: vec!["get".into()],
        ..PolicyRule::default()
    }
}

async fn rules_of(roles: &Api<ClusterRole>, name: &str) -> Vec<PolicyRule> {
    roles.get(name).await.expect("get clusterrole").rules.unwrap_or_default()
}

#[tokio::test]
async fn aggregated_roles_follow_the_roles_they_select() {
    let (cluster, controllers) = start().await;
    let roles: Api<ClusterRole> = Api::all(cluster.client());

    // The bootstrap chain, each role's sources in name order: view gets
    // system:aggregate-to-view's rules; edit system:aggregate-to-edit's, then view's; admin
    // edit's, then system:aggregate-to-admin's.
    let view_rules = rules_of(&roles, "system:aggregate-to-view").await;
    let edit_rules = rules_of(&roles, "system:aggregate-to-edit").await;
    let admin_rules = rules_of(&roles, "system:aggregate-to-admin").await;
    eventually("view, edit and admin aggregated", || async {
        let edit: Vec<PolicyRule> = edit_rules.iter().chain(&view_rules).cloned().collect();
        let admin: Vec<PolicyRule> = edit.iter().chain(&admin_rules).cloned().collect();
        (rules_of(&roles, "view").await == view_rules
            && rules_of(&roles, "edit").await == edit
            && rules_of(&roles, "admin").await == admin)
            .then_some(())
    })
    .await;

    // A user's aggregated role: sources in name order, whatever the creation order.
    let mut mine = role("mine", &[], Vec::new());
    mine.aggregation_rule = Some(
        serde_json::from_value(serde_json::json!({
            "clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-mine": "true"}}],
        }))
        .expect("an aggregation rule"),
    );
    roles.create(&PostParams::default(), &mine).await.expect("create mine");
    for (name, resource) in [("b-source", "bolts"), ("a-source", "widgets")] {
        let source = role(name, &["example.com/aggregate-to-mine"], vec![get(resource)]);
        roles.create(&PostParams::default(), &source).await.expect("create source");
    }
    eventually("mine aggregates both sources in name order", || async {
        (rules_of(&roles, "mine").await == [get("widgets"), get("bolts")]).then_some(())
    })
    .await;
    let managers: Vec<String> = roles
        .get("mine")
        .await
        .expect("get mine")
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.operation.as_deref() == Some("Apply"))
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["clusterrole-aggregation-controller"]);

    // Sources going away: their rules go; the last one leaves no rules at all.
    roles.delete("a-source", &DeleteParams::default()).await.expect("delete a-source");
    eventually("mine keeps only bolts", || async {
        (rules_of(&roles, "mine").await == [get("bolts")]).then_some(())
    })
    .await;
    roles.delete("b-source", &DeleteParams::default()).await.expect("delete b-source");
    eventually("mine has no rules", || async {
        rules_of(&roles, "mine").await.is_empty().then_some(())
    })
    .await;
    controllers.shutdown().await;
}
