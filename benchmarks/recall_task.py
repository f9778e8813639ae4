"""Record how many memories Expire-Span keeps on the recall probe as the delay grows.

For each delay D, a one-layer Expire-Span memory is trained on the supervised recall task of
``rl_memory.memory.recall`` (remember a marked token for D frames among random unmarked
ones) and then measured on fresh sequences: accuracy, the key's span, the mean span of the
unmarked frames, and the memories the query attends to. Keeping all memories would mean
D + 1 or more at the query; chance accuracy is 1 / n_tokens = 0.25.

Settings per delay: ``max_span = 2 D``, ``ramp = max(4, D // 4)``, spans start at 0.6 of
``max_span``. The span predictor's learning rate is ``min(3e-3, 0.3 / D)``, because a key
span that moves faster falls through its ramp before the task gradient can hold it, and it
stays frozen for the first ``--span-warmup`` steps and until the running training accuracy
reaches ``--warmup-accuracy``, so that the model learns to read the key before any span
shrinks.

Usage:
    python benchmarks/recall_task.py                      # D = 10, 30, 100, 300, 1000
    python benchmarks/recall_task.py --delays 10 30 --steps 200
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rl_memory.memory.recall import RecallTaskConfig, recall_memory_config, train_recall


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delays", type=int, nargs="+", default=[10, 30, 100, 300, 1000])
    parser.add_argument("--steps", type=int, default=600, help="training steps per delay")
    parser.add_argument("--span-warmup", type=int, default=150, help="steps with frozen spans")
    parser.add_argument(
        "--warmup-accuracy", type=float, default=0.9, help="training accuracy that unfreezes spans"
    )
    parser.add_argument(
        "--long-delay", type=int, default=300, help="from this delay on, use --long-batch"
    )
    parser.add_argument("--batch", type=int, default=16, help="sequences per step")
    parser.add_argument("--long-batch", type=int, default=8, help="sequences per step, long delays")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    header = (
        "| D | accuracy | key span | unmarked span | memories at query | all memories would be |"
        " ramp | train s |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    results = []
    for delay in args.delays:
        task = RecallTaskConfig(
            delay=delay,
            batch_size=args.long_batch if delay >= args.long_delay else args.batch,
            train_steps=args.steps,
            span_learning_rate=min(3e-3, 0.3 / delay),
            span_warmup_steps=args.span_warmup,
            span_warmup_accuracy=args.warmup_accuracy,
            seed=args.seed,
        )
        config = recall_memory_config(delay)
        started = time.perf_counter()
        result = train_recall(config, task)
        seconds = time.perf_counter() - started
        # Without expiry the query attends to every frame up to itself: D + 1 to D + key_window.
        all_memories = f"{delay + 1}..{delay + task.key_window}"
        lines.append(
            f"| {delay:,} | {result.accuracy:.2f} | {result.key_span:.1f} | "
            f"{result.other_span:.1f} | {result.retained_at_query:.1f} | {all_memories} | "
            f"{config.ramp} | {seconds:.0f} |"
        )
        results.append({"delay": delay, "ramp": config.ramp, "seconds": seconds, **vars(result)})
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)


if __name__ == "__main__":
    main()
