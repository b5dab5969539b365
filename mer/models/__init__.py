"""The network family (GFEM, LTFEM, DBFEM, DBFEM+CAFFM(_L/_G)) and the comparison systems, registered in timm.

Importing this package registers the models, so ``timm.create_model("mer_dbfem_caffm", num_classes=5)`` works
after ``import mer``. Comparison systems: ``mer_fr`` and ``mer_mjfn`` (RECONSTRUCTIONS after FR and MJFN, sizes
ours), ``mer_mol`` (MOL, from the description of its public code) and ``lbptop_svm`` (LBP-TOP + a linear SVM,
not a torch network: :data:`mer.models.lbptop.CLASSICAL_MODELS`).
"""

from mer.models.caffm import CAFFM
from mer.models.cfg import MerPretrainedCfg
from mer.models.dual_branch import DualBranchNet
from mer.models.fr import FeatureRefinement
from mer.models.mjfn import MultiScaleJointNet
from mer.models.mol import MicroActionNet

__all__ = ["CAFFM", "DualBranchNet", "FeatureRefinement", "MerPretrainedCfg", "MicroActionNet", "MultiScaleJointNet"]
