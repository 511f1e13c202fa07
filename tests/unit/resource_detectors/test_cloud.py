import pytest

from vitalyst_otel.resource_detectors.cloud import AwsDetector, AzureDetector, GcpDetector


def attributes(detector, environ):
    return dict(detector(environ).detect().attributes)


def test_aws_lambda():
    environ = {"AWS_LAMBDA_FUNCTION_NAME": "enrich", "AWS_REGION": "eu-central-1",
               "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
               "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/enrich", "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]abc"}
    assert attributes(AwsDetector, environ) == {
        "cloud.provider": "aws", "cloud.platform": "aws_lambda", "cloud.region": "eu-central-1",
        "faas.name": "enrich", "faas.version": "$LATEST", "faas.instance": "2026/01/01/[$LATEST]abc",
        "faas.max_memory": 512 * 1024 * 1024, "aws.log.group.names": ("/aws/lambda/enrich",)}


def test_aws_ecs_fargate():
    environ = {"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/abc", "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
               "AWS_DEFAULT_REGION": "us-east-1"}
    assert attributes(AwsDetector, environ) == {"cloud.provider": "aws", "cloud.platform": "aws_ecs",
                                                "cloud.region": "us-east-1", "aws.ecs.launchtype": "fargate"}


def test_cloud_run_service_job_and_functions():
    assert attributes(GcpDetector, {"K_SERVICE": "kg-api", "K_REVISION": "kg-api-00042-xyz",
                                    "K_CONFIGURATION": "kg-api", "GOOGLE_CLOUD_PROJECT": "vitalyst-prod"}) == {
        "cloud.provider": "gcp", "cloud.platform": "gcp_cloud_run", "cloud.account.id": "vitalyst-prod",
        "faas.name": "kg-api", "faas.version": "kg-api-00042-xyz"}
    job = attributes(GcpDetector, {"CLOUD_RUN_JOB": "reindex", "CLOUD_RUN_EXECUTION": "reindex-abc"})
    assert job["cloud.platform"] == "gcp_cloud_run" and job["faas.name"] == "reindex"
    function = attributes(GcpDetector, {"K_SERVICE": "f", "K_REVISION": "3", "FUNCTION_TARGET": "main"})
    assert function["cloud.platform"] == "gcp_cloud_functions"


def test_azure_app_service_and_functions():
    environ = {"WEBSITE_SITE_NAME": "kg-web", "REGION_NAME": "West Europe",
               "WEBSITE_OWNER_NAME": "0000-sub-id+kg-rg-WestEuropewebspace", "WEBSITE_RESOURCE_GROUP": "kg-rg",
               "WEBSITE_HOSTNAME": "kg-web.azurewebsites.net"}
    assert attributes(AzureDetector, environ) == {
        "cloud.provider": "azure", "cloud.platform": "azure.app_service", "cloud.region": "West Europe",
        "cloud.resource_id": "/subscriptions/0000-sub-id/resourceGroups/kg-rg/providers/Microsoft.Web/sites/kg-web",
        "host.id": "kg-web.azurewebsites.net"}
    functions = attributes(AzureDetector, {**environ, "FUNCTIONS_EXTENSION_VERSION": "~4"})
    assert functions["cloud.platform"] == "azure.functions" and functions["faas.name"] == "kg-web"


@pytest.mark.parametrize("detector", [AwsDetector, GcpDetector, AzureDetector])
def test_nothing_outside_the_platform(detector):
    assert attributes(detector, {"HOME": "/root", "AWS_REGION": "eu-west-1", "K_SERVICE": "x"}) == {}
