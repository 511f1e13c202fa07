"""Cloud platforms recognised from the environment their runtime sets, without asking a metadata
endpoint (no network at start-up: attributes only the metadata service knows, such as the Cloud
Run region or the ECS task ARN, are left to the collector's resourcedetection processor).

- AWS Lambda: ``AWS_LAMBDA_FUNCTION_NAME`` (with ``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_VERSION``,
  ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, ``AWS_LAMBDA_LOG_GROUP_NAME``, ``AWS_LAMBDA_LOG_STREAM_NAME``);
- AWS ECS: ``ECS_CONTAINER_METADATA_URI_V4`` or ``ECS_CONTAINER_METADATA_URI`` (launch type from
  ``AWS_EXECUTION_ENV``, region from ``AWS_REGION`` / ``AWS_DEFAULT_REGION``);
- Google Cloud Run: ``K_SERVICE`` and ``K_REVISION`` (services), ``CLOUD_RUN_JOB`` (jobs); Cloud
  Functions: ``FUNCTION_TARGET`` beside ``K_SERVICE``; project from ``GOOGLE_CLOUD_PROJECT``;
- Azure App Service: ``WEBSITE_SITE_NAME`` (with ``REGION_NAME``, ``WEBSITE_OWNER_NAME``,
  ``WEBSITE_RESOURCE_GROUP``, ``WEBSITE_HOSTNAME``); Azure Functions when
  ``FUNCTIONS_EXTENSION_VERSION`` is set too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.resources import Resource, ResourceDetector
from opentelemetry.semconv._incubating.attributes import aws_attributes as aws
from opentelemetry.semconv._incubating.attributes import cloud_attributes as cloud
from opentelemetry.semconv._incubating.attributes import faas_attributes as faas
from opentelemetry.semconv._incubating.attributes import host_attributes as host

Platform = cloud.CloudPlatformValues
Provider = cloud.CloudProviderValues


class _EnvironmentDetector(ResourceDetector):
    def __init__(self, environ: Mapping[str, str] | None = None):
        super().__init__()
        self.environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def detect(self) -> Resource:
        attributes = self.attributes()
        return Resource({k: v for k, v in attributes.items() if v is not None}) if attributes else Resource.get_empty()

    def attributes(self) -> dict:
        raise NotImplementedError


class AwsDetector(_EnvironmentDetector):
    def attributes(self) -> dict:
        get = self.get
        region = get("AWS_REGION") or get("AWS_DEFAULT_REGION")
        function = get("AWS_LAMBDA_FUNCTION_NAME")
        if function:
            memory = get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
            log_group = get("AWS_LAMBDA_LOG_GROUP_NAME")
            return {
                cloud.CLOUD_PROVIDER: Provider.AWS.value, cloud.CLOUD_PLATFORM: Platform.AWS_LAMBDA.value,
                cloud.CLOUD_REGION: region, faas.FAAS_NAME: function,
                faas.FAAS_VERSION: get("AWS_LAMBDA_FUNCTION_VERSION"),
                faas.FAAS_INSTANCE: get("AWS_LAMBDA_LOG_STREAM_NAME"),
                faas.FAAS_MAX_MEMORY: int(memory) * 1024 * 1024 if memory and memory.isdigit() else None,
                aws.AWS_LOG_GROUP_NAMES: (log_group,) if log_group else None,
            }
        if get("ECS_CONTAINER_METADATA_URI_V4") or get("ECS_CONTAINER_METADATA_URI"):
            execution = (get("AWS_EXECUTION_ENV") or "").upper()
            launch = {"AWS_ECS_FARGATE": "fargate", "AWS_ECS_EC2": "ec2"}.get(execution)
            return {cloud.CLOUD_PROVIDER: Provider.AWS.value, cloud.CLOUD_PLATFORM: Platform.AWS_ECS.value,
                    cloud.CLOUD_REGION: region, aws.AWS_ECS_LAUNCHTYPE: launch}
        return {}


class GcpDetector(_EnvironmentDetector):
    def attributes(self) -> dict:
        get = self.get
        job = get("CLOUD_RUN_JOB")
        service = get("K_SERVICE")
        if job:
            platform, name, version = Platform.GCP_CLOUD_RUN.value, job, get("CLOUD_RUN_EXECUTION")
        elif service and get("FUNCTION_TARGET"):
            platform, name, version = Platform.GCP_CLOUD_FUNCTIONS.value, service, get("K_REVISION")
        elif service and get("K_REVISION"):
            platform, name, version = Platform.GCP_CLOUD_RUN.value, service, get("K_REVISION")
        else:
            return {}
        return {cloud.CLOUD_PROVIDER: Provider.GCP.value, cloud.CLOUD_PLATFORM: platform,
                cloud.CLOUD_ACCOUNT_ID: get("GOOGLE_CLOUD_PROJECT"), faas.FAAS_NAME: name,
                faas.FAAS_VERSION: version}


class AzureDetector(_EnvironmentDetector):
    def attributes(self) -> dict:
        get = self.get
        site = get("WEBSITE_SITE_NAME")
        if not site:
            return {}
        functions = get("FUNCTIONS_EXTENSION_VERSION") is not None
        subscription = (get("WEBSITE_OWNER_NAME") or "").split("+", 1)[0] or None
        group = get("WEBSITE_RESOURCE_GROUP")
        resource_id = (f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Web/sites/{site}"
                       if subscription and group else None)
        return {
            cloud.CLOUD_PROVIDER: Provider.AZURE.value,
            cloud.CLOUD_PLATFORM: (Platform.AZURE_FUNCTIONS if functions else Platform.AZURE_APP_SERVICE).value,
            cloud.CLOUD_REGION: get("REGION_NAME"), cloud.CLOUD_RESOURCE_ID: resource_id,
            faas.FAAS_NAME: site if functions else None,
            host.HOST_ID: get("WEBSITE_HOSTNAME"),
        }
