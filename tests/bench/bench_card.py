"""What the model card adds to the default run (`python -m engine`): 10 rounds, each the run
with its card and the run without (the same command with the card's writer replaced by one that
writes none), alternating; and, in a fresh process on each round's run directory, the card's
writing step alone (huggingface_hub's card data imported cold, as at training, the records read,
the Markdown made and written). Target: the step's median <= 2 % of the run's median wall time.

    python tests/bench/bench_card.py [--rounds 10] [-o outputs/bench/card.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import REPO, engine_command, median_of, timed_process, timed_run

WITHOUT_CARD = ("import sys, engine.stages as stages; stages.model_card = lambda *args: None; "
                "from engine.cli import main; main(sys.argv[1:])")
CARD_STEP = """\
import sys, time
from pathlib import Path
import engine.stages  # what a run has imported before its card is written
from engine.card.writer import model_card
from engine.config.compose import compose_spec
from engine.tracking.records import BundleMetadata, read_record
run_dir = Path(sys.argv[1])
spec = compose_spec([])
metadata = read_record(run_dir / "model" / "metadata.json", BundleMetadata)
started = time.perf_counter()
text = model_card(run_dir, spec, metadata)
(run_dir / "MODEL_CARD.bench.md").write_text(text, encoding="utf-8")
print(time.perf_counter() - started)
"""
TARGET = 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("-o", "--output", type=Path,
                        default=REPO / "outputs" / "bench" / "card.json")
    options = parser.parse_args()
    with_card, without_card, steps = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for number in range(options.rounds):
            outputs = Path(scratch) / str(number)
            with_card.append(timed_process(engine_command(f"paths.output_dir={outputs}/with")))
            without_card.append(timed_process(
                [sys.executable, "-c", WITHOUT_CARD, f"paths.output_dir={outputs}/without"]))
            (run_dir,) = (outputs / "with" / "runs").iterdir()
            assert (run_dir / "model" / "MODEL_CARD.md").is_file()
            assert not any((outputs / "without" / "runs").glob("*/model/MODEL_CARD.md"))
            steps.append(float(timed_run([sys.executable, "-c", CARD_STEP, str(run_dir)])[1]))
            print(f"round {number + 1}: with {with_card[-1]:.2f} s, without "
                  f"{without_card[-1]:.2f} s, card step {steps[-1] * 1000:.1f} ms", flush=True)
    share = median_of(steps) / median_of(with_card)
    result = {"rounds": options.rounds, "with_card_s": with_card, "without_card_s": without_card,
              "card_step_s": steps, "median_with_s": median_of(with_card),
              "median_without_s": median_of(without_card), "median_step_s": median_of(steps),
              "step_share": share, "target": TARGET}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2))
    print(f"default run: median {median_of(with_card):.2f} s with the card, "
          f"{median_of(without_card):.2f} s without "
          f"({median_of(with_card) / median_of(without_card) - 1:+.1%}, run-to-run noise "
          f"included); the card's writing step: median {median_of(steps) * 1000:.1f} ms, "
          f"{share:.2%} of the run (target <= {TARGET:.0%}); {options.output}")
    if share > TARGET:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
