"""The network family: GFEM, LTFEM, DBFEM and DBFEM+CAFFM(_L/_G), registered in timm as ``mer_*``.

Importing this package registers the models, so ``timm.create_model("mer_dbfem_caffm", num_classes=5)`` works
after ``import mer``.
"""

from mer.models.caffm import CAFFM
from mer.models.cfg import MerPretrainedCfg
from mer.models.dual_branch import DualBranchNet

__all__ = ["CAFFM", "DualBranchNet", "MerPretrainedCfg"]
