"""`results.md`: the merged `results.json` as Markdown tables.

One function per case (`SECTIONS`, in the order of the cases); each takes
the result rows and returns its lines. `markdown(merged)` puts them under
the run's header. The tables are documented in `benchmarks/README.md`.
"""

# The pipeline case's targets (see benchmarks/README.md).
PIPELINE_TARGET_EVERY = 1.0
PIPELINE_TARGET_FASTEST = 1.5


def _ms(t):
    return f"{t['median_s'] * 1e3:.2f}"


def _mb(mem):
    for key in ("gpu_peak_bytes", "rss_peak_delta_bytes"):
        if mem.get(key) is not None:
            return f"{mem[key] / 2**20:.1f}"
    return "n/a"


def _rows(rows, case):
    return [r for r in rows if r["case"] == case]


def vs_package(rows):
    lines = [
        "### 1. vs the authors' package (ours / theirs; < 1 is faster)",
        "",
        "| backend | mode | shape | fwd ms ours | fwd ms theirs | fwd ratio "
        "| fwd+bwd ms ours | fwd+bwd ms theirs | fwd+bwd ratio "
        "| max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in _rows(rows, "vs_package"):
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['shape']} "
            f"| {_ms(r['ours_forward'])} | {_ms(r['theirs_forward'])} "
            f"| {r['ratio_forward']:.3f} "
            f"| {_ms(r['ours_forward_backward'])} "
            f"| {_ms(r['theirs_forward_backward'])} "
            f"| {r['ratio_forward_backward']:.3f} "
            f"| {r['max_abs_diff']:.1e} |"
        )
    return lines


def vs_multiply(rows):
    lines = [
        "### 2. vs one elementwise multiply (our forward / multiply)",
        "",
        "| backend | mode | shape | ours ms | multiply ms | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in _rows(rows, "vs_multiply"):
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['shape']} "
            f"| {_ms(r['ours_forward'])} | {_ms(r['multiply'])} "
            f"| {r['ratio']:.2f} |"
        )
    return lines


def densities(rows):
    lines = [
        "### 3. 16 densities / 1 density (package formulation)",
        "",
        "| backend | mode | shape | fwd K=1 ms | fwd K=16 ms | fwd ratio "
        "| fwd+bwd K=1 ms | fwd+bwd K=16 ms | fwd+bwd ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in _rows(rows, "densities"):
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['shape']} "
            f"| {_ms(r['k1_forward'])} | {_ms(r['k16_forward'])} "
            f"| {r['ratio_forward']:.2f} "
            f"| {_ms(r['k1_forward_backward'])} "
            f"| {_ms(r['k16_forward_backward'])} "
            f"| {r['ratio_forward_backward']:.2f} |"
        )
    return lines


def _xla_memory(r):
    if "daam_xla_memory" in r and "temp_bytes" in (r["daam_xla_memory"] or {}):
        d, m = r["daam_xla_memory"], r["mha_xla_memory"]
        return (
            f"{(d['temp_bytes'] + d['output_bytes']) / 2**20:.1f} / "
            f"{(m['temp_bytes'] + m['output_bytes']) / 2**20:.1f}"
        )
    return "-"


def _growth(rows):
    """Time growth of DAAM and MHA for 4x the length, per backend/mode."""
    growth = []
    mha_rows = _rows(rows, "vs_mha")
    for backend in sorted({r["backend"] + "/" + r["mode"] for r in rows}):
        by_len = {
            r["length"]: r
            for r in mha_rows
            if r["backend"] + "/" + r["mode"] == backend
        }
        for lo in sorted(by_len):
            hi = lo * 4
            if hi in by_len:
                d = (
                    by_len[hi]["daam_forward"]["median_s"]
                    / by_len[lo]["daam_forward"]["median_s"]
                )
                m = (
                    by_len[hi]["mha_forward"]["median_s"]
                    / by_len[lo]["mha_forward"]["median_s"]
                )
                growth.append(
                    f"| {backend} | {lo} -> {hi} | {d:.2f} | {m:.2f} |"
                )
    return growth


def vs_mha(rows):
    lines = [
        "### 4. DAAM vs MultiHeadAttention (8 heads), forward, batch 1",
        "",
        "| backend | mode | length | DAAM ms | MHA ms | MHA / DAAM "
        "| DAAM peak MiB | MHA peak MiB | XLA temp+out MiB DAAM / MHA |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in _rows(rows, "vs_mha"):
        lines.append(
            f"| {r['backend']} | {r['mode']} | {r['length']} "
            f"| {_ms(r['daam_forward'])} | {_ms(r['mha_forward'])} "
            f"| {r['ratio_mha_over_daam']:.1f} "
            f"| {_mb(r['daam_memory'])} | {_mb(r['mha_memory'])} "
            f"| {_xla_memory(r)} |"
        )
    growth = _growth(rows)
    if growth:
        lines += [
            "",
            "Time growth for 4x the length:",
            "",
            "| backend/mode | lengths | DAAM | MHA |",
            "|---|---|---|---|",
        ] + growth
    return lines


def end_to_end(rows):
    lines = [
        "### 5. End to end (tiny random BertBackbone, frozen)",
        "",
        "| backend | epoch cached ms | epoch with backbone ms | speed-up "
        "| bare predict ms | extraction ms | extraction overhead |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in _rows(rows, "end_to_end"):
        lines.append(
            f"| {r['backend']} | {_ms(r['epoch_cached_features'])} "
            f"| {_ms(r['epoch_with_backbone'])} "
            f"| {r['speedup_cached_epoch']:.1f}x "
            f"| {_ms(r['bare_predict'])} | {_ms(r['extract_features'])} "
            f"| {r['extraction_overhead'] * 100:+.1f}% |"
        )
    return lines


def _rate(texts_per_s):
    return f"{texts_per_s:.1f}" if texts_per_s < 100 else f"{texts_per_s:.0f}"


def _list(values):
    if values is None:
        return "n/a"
    return ", ".join(str(v) for v in values)


def _verdict(met):
    return "met" if met else "**missed**"


def pipeline_targets(measured):
    """Verdict lines for the pipeline's two targets (warm texts/s)."""
    if not measured:
        return []
    ratios = ", ".join(
        f"{r['backend']} {r['ratio_ours_over_anchor']:.2f}x" for r in measured
    )
    fastest = max(measured, key=lambda r: r["ours_texts_per_s"])
    every = all(
        r["ratio_ours_over_anchor"] >= PIPELINE_TARGET_EVERY for r in measured
    )
    best = fastest["ratio_ours_over_anchor"] >= PIPELINE_TARGET_FASTEST
    return [
        "",
        "| target | measured (warm, ours / sorted anchor) | verdict |",
        "|---|---|---|",
        f"| ours >= the anchor on every backend | {ratios} "
        f"| {_verdict(every)} |",
        f"| ours >= {PIPELINE_TARGET_FASTEST}x the anchor on the fastest "
        f"backend | {fastest['backend']}: "
        f"{fastest['ratio_ours_over_anchor']:.2f}x | {_verdict(best)} |",
    ]


def pipeline(rows):
    entries = _rows(rows, "pipeline")
    measured = [r for r in entries if "skipped" not in r]
    count = measured[0]["num_texts"] if measured else "N"
    lines = [
        f"### 6. Extraction pipeline (MiniLM, {count} WordNet glosses, "
        "texts/s; higher is faster)",
        "",
    ]
    for r in entries:
        if "skipped" in r:
            lines.append(f"pipeline: skipped, {r['skipped']}")
    if not measured:
        return lines
    if len(measured) < len(entries):
        lines.append("")
    lines += [
        "| backend | ours runs as | ours cold | ours warm | anchor sorted "
        "| anchor unsorted | ours / anchor | ours batch | ours padded lengths "
        "| anchor sorted lengths | cosine min | cosine mean |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in measured:
        lines.append(
            f"| {r['backend']} | {r.get('ours_execution', r['mode'])} "
            f"| {_rate(r['ours_cold_texts_per_s'])} "
            f"| {_rate(r['ours_texts_per_s'])} "
            f"| {_rate(r['anchor_sorted_texts_per_s'])} "
            f"| {_rate(r['anchor_unsorted_texts_per_s'])} "
            f"| {r['ratio_ours_over_anchor']:.2f}x "
            f"| {r['ours_batch_size']} ({_list(r['ours_batch_sizes'])}) "
            f"| {_list(r['ours_padded_lengths'])} "
            f"| {len(r['anchor_sorted_padded_lengths'])} distinct "
            f"| {r['cosine_min']:.6f} | {r['cosine_mean']:.6f} |"
        )
    first = measured[0]
    lines += [
        "",
        f"Cold: the first run in the worker, compiles included; warm: the "
        f"median of {first['warm_repeats']} later run(s), alternating with "
        f"the anchor. Anchor: transformers {first['transformers']}, PyTorch "
        f"CPU, batch {first['anchor_batch_size']}, "
        f"{first['torch_threads']} torch thread(s). Loading (not timed "
        f"above): ours {first['ours_load_s']:.1f} s, anchor "
        f"{first['anchor_load_s']:.1f} s.",
    ]
    return lines + pipeline_targets(measured)


SECTIONS = (vs_package, vs_multiply, densities, vs_mha, end_to_end, pipeline)


def _machine_line(merged):
    info = merged.get("machine") or {}
    cpu = info.get("cpu") or "unknown CPU"
    cores = info.get("nproc", "?")
    return f"Machine: {cpu}, {cores} cores; threads: {merged['threads']}."


def markdown(merged):
    """The whole `results.md` of a merged run."""
    rows = merged["results"]
    lines = [f"Run {merged['date']}: `{merged['command']}`"]
    for worker in merged["workers"]:
        if "error" in worker:
            lines.append(
                f"Worker {worker['backend']} failed: {worker['error']}"
            )
    for section in SECTIONS:
        lines += [""] + section(rows)
        if section is pipeline and _rows(rows, "pipeline"):
            lines += ["", _machine_line(merged)]
    return "\n".join(lines) + "\n"
