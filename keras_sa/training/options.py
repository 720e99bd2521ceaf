"""Names and choices shared by the training modules: run-folder files and options."""

BEST_MODEL = "best.keras"
LAST_MODEL = "last.keras"
BACKUP = "backup"
PRECISIONS = ("float32", "mixed_bfloat16")
OBJECTIVES = ("l1", "sdr", "l1+sdr")
SELECTIONS = {"l1": ("val_final_l1", "min"), "gnsdr": ("val_gnsdr_vocals", "max")}
"""What ``best.keras`` is selected by: the monitored log and its direction."""


def check_choice(option, value, choices):
    if value not in choices:
        raise ValueError(f"unknown {option} {value!r} (choose from {', '.join(choices)})")
