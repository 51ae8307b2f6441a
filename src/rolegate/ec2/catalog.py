"""The built-in catalogue: the images (AMIs) and instance types an instance can be run with.

A small fixed set, owned by Amazon (`amazon` alias, its public owner id), available in every
region: enough for RunInstances to refuse unknown ones as AWS does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["AMAZON_OWNER", "IMAGES", "INSTANCE_TYPES", "Image", "InstanceType"]

AMAZON_OWNER: Final = "137112412989"


@dataclass(frozen=True, slots=True)
class Image:
    image_id: str
    name: str
    description: str
    architecture: str
    platform_details: str
    created: str
    root_device: str = "/dev/xvda"

    def describe(self) -> dict[str, Any]:
        return {
            "ImageId": self.image_id,
            "ImageLocation": f"amazon/{self.name}",
            "State": "available",
            "OwnerId": AMAZON_OWNER,
            "ImageOwnerAlias": "amazon",
            "CreationDate": self.created,
            "Public": True,
            "Architecture": self.architecture,
            "ImageType": "machine",
            "Name": self.name,
            "Description": self.description,
            "PlatformDetails": self.platform_details,
            "UsageOperation": "RunInstances",
            "RootDeviceType": "ebs",
            "RootDeviceName": self.root_device,
            "VirtualizationType": "hvm",
            "Hypervisor": "xen",
            "EnaSupport": True,
            "SriovNetSupport": "simple",
            "BootMode": "uefi-preferred",
        }


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    architecture: str = "x86_64"
    burstable: bool = False
    free_tier: bool = False

    def describe(self) -> dict[str, Any]:
        cores = max(1, self.vcpus // 2)
        return {
            "InstanceType": self.name,
            "CurrentGeneration": True,
            "FreeTierEligible": self.free_tier,
            "SupportedUsageClasses": ["on-demand", "spot"],
            "SupportedRootDeviceTypes": ["ebs"],
            "SupportedVirtualizationTypes": ["hvm"],
            "BareMetal": False,
            "Hypervisor": "nitro",
            "ProcessorInfo": {"SupportedArchitectures": [self.architecture]},
            "VCpuInfo": {
                "DefaultVCpus": self.vcpus,
                "DefaultCores": cores,
                "DefaultThreadsPerCore": self.vcpus // cores,
            },
            "MemoryInfo": {"SizeInMiB": self.memory_mib},
            "InstanceStorageSupported": False,
            "HibernationSupported": True,
            "BurstablePerformanceSupported": self.burstable,
            "DedicatedHostsSupported": not self.burstable,
            "AutoRecoverySupported": True,
            "SupportedBootModes": ["legacy-bios", "uefi"],
        }


def _by_key(items: tuple[Any, ...], key: str) -> Mapping[str, Any]:
    return {getattr(item, key): item for item in items}


IMAGES: Final[Mapping[str, Image]] = _by_key(
    (
        Image(
            "ami-0a3c3a20c09d6f377",
            "al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64",
            "Amazon Linux 2023 AMI 2023.6.20241212.0 x86_64 HVM kernel-6.1",
            "x86_64",
            "Linux/UNIX",
            "2024-12-12T19:22:41.000Z",
        ),
        Image(
            "ami-0c7217cdde317cfec",
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240111",
            "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-01-11",
            "x86_64",
            "Linux/UNIX",
            "2024-01-11T20:46:13.000Z",
            "/dev/sda1",
        ),
        Image(
            "ami-064519b8c76274859",
            "debian-12-amd64-20240201-1644",
            "Debian 12 (20240201-1644)",
            "x86_64",
            "Linux/UNIX",
            "2024-02-01T17:01:09.000Z",
        ),
        Image(
            "ami-0e1d35993cb249cee",
            "al2023-ami-2023.6.20241212.0-kernel-6.1-arm64",
            "Amazon Linux 2023 AMI 2023.6.20241212.0 arm64 HVM kernel-6.1",
            "arm64",
            "Linux/UNIX",
            "2024-12-12T19:22:40.000Z",
        ),
    ),
    "image_id",
)

INSTANCE_TYPES: Final[Mapping[str, InstanceType]] = _by_key(
    (
        InstanceType("t2.micro", 1, 1024, burstable=True, free_tier=True),
        InstanceType("t3.micro", 2, 1024, burstable=True, free_tier=True),
        InstanceType("t3.small", 2, 2048, burstable=True),
        InstanceType("t3.medium", 2, 4096, burstable=True),
        InstanceType("t4g.micro", 2, 1024, "arm64", burstable=True, free_tier=True),
        InstanceType("m5.large", 2, 8192),
        InstanceType("m5.xlarge", 4, 16384),
        InstanceType("c5.large", 2, 4096),
        InstanceType("r5.large", 2, 16384),
        InstanceType("m7g.large", 2, 8192, "arm64"),
    ),
    "name",
)
