from lnsnet.eval.benchmark import open_dataset
def DS(a):
    if a.data == "bsds":
        from lnsnet.eval.datasets import BSDS500
        return BSDS500(split=getattr(a, "split", "val"))
    if a.data == "sbd":
        names = open("/work/shared/data/sbd/splits/stutz_val_238.txt").read().split()[:a.images]
        return open_dataset("/work/shared/data/sbd", images_list=None, ignore_label=0).__class__(
            "/work/shared/data/sbd/images", "/work/shared/data/sbd/labels", names=names, ignore_label=0)
    if a.data == "dsb":
        return open_dataset("/work/shared/data/dsb2018-nuclei")
