"""Statistics of the audit, in one place: intervals, the paired stratified bootstrap, decisions, correlations.

Torch-free (numpy; scipy is imported lazily for quantiles and tests), so the check vocabulary and the report can use
it without importing the training stack.

- ``Interval`` / ``combine_variances`` / ``t_quantile`` / ``mean_std_ci``: how every reported interval is built.
- ``StratifiedBootstrap``: resampling of one evaluation split, group-stratified, shared by every model (paired).
- ``weighted_auc``: the ROC AUC of every bootstrap replicate at once.
- ``decide_at_most`` / ``decide_at_least`` / ``what_would_decide``: PASS / FAIL / INCONCLUSIVE from an interval.
- ``pearson`` / ``spearman``: correlations with p-values.
- ``ks_forget_quality``: the two-sample Kolmogorov-Smirnov test of forget-set losses (TOFU's "forget quality").
"""

from ._bootstrap import StratifiedBootstrap, check_n_boot, weighted_auc
from ._correlation import Correlation, correlation_interval, ks_forget_quality, pearson, spearman
from ._decision import Decision, decide_at_least, decide_at_most, what_would_decide
from ._intervals import Interval, check_level, combine_variances, mean_std_ci, pooled_seed_variance, t_quantile

__all__ = ["Correlation", "Decision", "Interval", "StratifiedBootstrap", "check_level", "check_n_boot",
           "combine_variances", "correlation_interval", "decide_at_least",
           "decide_at_most", "ks_forget_quality", "mean_std_ci", "pearson", "pooled_seed_variance", "spearman",
           "t_quantile", "weighted_auc", "what_would_decide"]
