//! The controller's EC2 client (`grafana-ondemand-aws/src/ec2.rs`, in place of `aws-sdk-ec2`)
//! against moto's EC2, an implementation of the query protocol that is not ours: interfaces
//! made with boto3 (an Elastic IP on one, one deleted) are read back as boto3 reads them.
//!
//! moto's server runs from the venv `.ci/install python` makes under the target directory
//! (pinned in `.ci/requirements.txt`); this test runs that first, as the CI does.

use crate::support::{free_port, root, text};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use grafana_ondemand::Platform;
use grafana_ondemand::aws::Builder;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// moto's server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv_python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("venv/bin/python")
}

async fn moto() -> Moto {
    let install = Command::new("bash")
        .arg(root().join(".ci/install"))
        .arg("python")
        .output()
        .expect("bash .ci/install python");
    assert!(
        install.status.success(),
        "bash .ci/install python: {}{}",
        text(&install.stdout),
        text(&install.stderr)
    );
    let port = free_port();
    let child = Command::new(venv_python())
        .arg(root().join("infra/test/moto_server.py"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto's server");
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..150 {
        if reqwest::get(format!("{}/moto-api/", moto.url))
            .await
            .is_ok()
        {
            return moto;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("moto's server did not start at {}", moto.url);
}

/// Runs a boto3 snippet against moto (`ec2` is its EC2 client) and returns what it prints.
fn boto3(moto: &Moto, snippet: &str) -> String {
    let program = format!(
        "import boto3, json\nec2 = boto3.client('ec2', endpoint_url='{}', region_name='eu-west-3', aws_access_key_id='testing', aws_secret_access_key='testing')\n{snippet}",
        moto.url
    );
    let out = Command::new(venv_python())
        .args(["-c", &program])
        .output()
        .expect("the venv's python");
    assert!(out.status.success(), "boto3: {}", text(&out.stderr));
    text(&out.stdout)
}

#[tokio::test]
async fn the_controllers_ec2_client_reads_interfaces_as_moto_answers_them() {
    let moto = moto().await;
    let made = boto3(
        &moto,
        r#"vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock='10.0.1.0/24')['Subnet']['SubnetId']
public = ec2.create_network_interface(SubnetId=subnet)['NetworkInterface']['NetworkInterfaceId']
private = ec2.create_network_interface(SubnetId=subnet)['NetworkInterface']['NetworkInterfaceId']
gone = ec2.create_network_interface(SubnetId=subnet)['NetworkInterface']['NetworkInterfaceId']
other = ec2.create_network_interface(SubnetId=subnet)['NetworkInterface']['NetworkInterfaceId']
eip = ec2.allocate_address(Domain='vpc')['AllocationId']
ec2.associate_address(AllocationId=eip, NetworkInterfaceId=public)
ec2.delete_network_interface(NetworkInterfaceId=gone)
seen = ec2.describe_network_interfaces(NetworkInterfaceIds=[public, private])['NetworkInterfaces']
print(json.dumps({'gone': gone, 'other': other, 'seen': [
    {'id': n['NetworkInterfaceId'], 'private': n['PrivateIpAddress'],
     'public': n.get('Association', {}).get('PublicIp'),
     'dns': n.get('Association', {}).get('PublicDnsName') or None} for n in seen]}))"#,
    );
    let made: serde_json::Value = serde_json::from_str(made.trim()).expect("boto3's JSON");
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .region(Region::new("eu-west-3"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await;
    let platform = Builder::new()
        .cluster("ondemand")
        .service("grafana")
        .sdk_config(sdk)
        .build()
        .await
        .expect("platform");
    let seen = made["seen"].as_array().expect("seen");
    let mut ids: Vec<String> = seen
        .iter()
        .map(|n| n["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.push(made["gone"].as_str().unwrap_or_default().to_owned());
    let mut found = platform
        .describe_network_interfaces(&ids)
        .await
        .expect("DescribeNetworkInterfaces on moto");
    found.sort_by(|a, b| a.id.cmp(&b.id));
    // The deleted one is left out, the one not asked for is not there, and each field is
    // what boto3 read.
    let mut expected: Vec<&serde_json::Value> = seen.iter().collect();
    expected.sort_by_key(|n| n["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(!found.iter().any(|n| n.id == made["other"]));
    for (n, e) in found.iter().zip(expected) {
        assert_eq!(n.id, e["id"].as_str().unwrap_or_default());
        assert_eq!(
            n.private_ip.map(|ip| ip.to_string()).as_deref(),
            e["private"].as_str()
        );
        assert_eq!(
            n.public_ip.map(|ip| ip.to_string()).as_deref(),
            e["public"].as_str()
        );
        assert_eq!(n.public_dns_name.as_deref(), e["dns"].as_str());
    }
    assert!(
        found.iter().any(|n| n.public_ip.is_some()),
        "the Elastic IP is read: {found:?}"
    );
    // A missing network interface filter value answers nothing, not every interface.
    assert!(
        platform
            .describe_network_interfaces(&[])
            .await
            .unwrap()
            .is_empty()
    );
}
