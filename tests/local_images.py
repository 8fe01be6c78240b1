"""Run the bundled blueprints on a machine without registry access: tag the local test images
(tests/docker/images) under the image names the blueprints use.

    python tests/local_images.py tag        # avr-core:<tag> -> avrgen-test/core:1, providers
                                            # and avr-ami -> avrgen-test/provider:1, avr-asterisk
                                            # -> avrgen-test/asterisk:1 (a stand-in, not
                                            # Asterisk; only names not present)
    python tests/local_images.py untag      # remove exactly the tags `tag` added
    python tests/local_images.py secrets    # a dotenv of placeholder values for every secret

Options: -b/--blueprints (default ./blueprints). The blueprints and output/ stay exactly as
committed; Docker resolves their image names to the stand-ins, so `avrgen up --all` runs
real containers that answer like AVR's (the core stand-in checks every provider URL it was
given). A name that already exists locally and is not a stand-in is never touched: this is
for demos and CI, not for a server that has the real images.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script from anywhere: import avrgen
    sys.path.insert(0, str(HERE.parent))

from avrgen.app.project import Paths, Project  # noqa: E402

CORE_IMAGE = "avrgen-test/core:1"
PROVIDER_IMAGE = "avrgen-test/provider:1"
ASTERISK_IMAGE = "avrgen-test/asterisk:1"
PLACEHOLDER = "placeholder-not-a-real-secret"


def image_id(ref: str) -> str | None:
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", ref],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def stand_ins(blueprints: Path) -> dict[str, str]:
    """Every image the blueprints' agents and telephony stack use -> the test image that
    stands in for it."""
    the_plan = Project(Paths(blueprints=blueprints)).plan()[0]
    found = {
        c.image: CORE_IMAGE if c.role == "core" else PROVIDER_IMAGE
        for agent in the_plan.agents.values()
        for c in agent.containers
    }
    if the_plan.telephony is not None:
        found[the_plan.telephony.asterisk_image] = ASTERISK_IMAGE
        if the_plan.telephony.ami_image is not None:
            found[the_plan.telephony.ami_image] = PROVIDER_IMAGE  # avr-ami answers on PORT
    return found


def tag(blueprints: Path) -> list[str]:
    """Tag the stand-ins under the blueprints' image names; the names tagged."""
    done: list[str] = []
    for image, stand_in in sorted(stand_ins(blueprints).items()):
        source = image_id(stand_in)
        if source is None:
            raise SystemExit(f"{stand_in} is missing: run tests/docker/build_images.sh")
        current = image_id(image)
        if current is not None and current != source:
            print(f"skipped {image}: a real image of that name is here", file=sys.stderr)
            continue
        subprocess.run(["docker", "tag", stand_in, image], check=True)
        done.append(image)
    return done


def untag(blueprints: Path) -> list[str]:
    """Remove the names `tag` added (only those that still point at a stand-in)."""
    done: list[str] = []
    for image, stand_in in sorted(stand_ins(blueprints).items()):
        current = image_id(image)
        if image != stand_in and current is not None and current == image_id(stand_in):
            subprocess.run(["docker", "image", "rm", image], check=True, capture_output=True)
            done.append(image)
    return done


def placeholder_secrets(blueprints: Path) -> str:
    the_plan = Project(Paths(blueprints=blueprints)).plan()[0]
    names = set(the_plan.secrets)
    if the_plan.telephony is not None:
        names |= the_plan.telephony.secrets
    return "".join(f"{name}={PLACEHOLDER}\n" for name in sorted(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["tag", "untag", "secrets"])
    parser.add_argument("-b", "--blueprints", type=Path, default=Path("blueprints"))
    args = parser.parse_args()
    if args.action == "secrets":
        sys.stdout.write(placeholder_secrets(args.blueprints))
        return
    names = tag(args.blueprints) if args.action == "tag" else untag(args.blueprints)
    for name in names:
        print(f"{args.action}ged {name}")


if __name__ == "__main__":
    main()
