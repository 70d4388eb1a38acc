"""PyTorch reference definitions shared by ventral's fixture, export and check scripts.

- `make(name)`: the model as ventral defines it (torchvision for AlexNet/VGG/ResNet; CORnet-Z and
  DeepCluster's AlexNet transcribed from their authors' repositories), eval mode, ReLUs not in place.
- `capture(model, x)`: every named module's forward-hook output, in completion order, cloned, with
  ":1".. ":k" suffixes for modules called k > 1 times: ventral's capture point names.
- `state_dict_for_ventral(model)`: the tensors ventral reads (no num_batches_tracked), float32.
- ViTs: `make("vit_b_16")` (torchvision) and `make("timm/vit_base_patch16_224")` (timm, no
  pretrained weights) build the full models; `make_vit(cfg)` builds a reduced one from ventral's
  `VitConfig` fields; `capture_vit(model, x)` records ventral's ViT capture points, including the
  on-request ones (`…:q`, `…:k`, `…:v`, `…:weights`) and torchvision's `pre_logits`.
"""
from collections import OrderedDict

import torch
import torchvision
from torch import nn


# CORnet-Z as in dicarlolab/CORnet cornet_z.py.
class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


class Identity(nn.Module):
    def forward(self, x):
        return x


class CORblockZ(nn.Module):
    def __init__(self, cin, cout, kernel_size=3, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2)
        self.nonlin = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.output = Identity()

    def forward(self, x):
        return self.output(self.pool(self.nonlin(self.conv(x))))


def cornet_z():
    return nn.Sequential(OrderedDict([
        ("V1", CORblockZ(3, 64, kernel_size=7, stride=2)),
        ("V2", CORblockZ(64, 128)),
        ("V4", CORblockZ(128, 256)),
        ("IT", CORblockZ(256, 512)),
        ("decoder", nn.Sequential(OrderedDict([
            ("avgpool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", Flatten()),
            ("linear", nn.Linear(512, 1000)),
            ("output", Identity()),
        ]))),
    ]))


# DeepCluster AlexNet as in facebookresearch/deepcluster models/alexnet.py (sobel=True, bn=True).
class DeepClusterAlexNet(nn.Module):
    def __init__(self, clusters=10000):
        super().__init__()
        layers, cin = [], 2
        for v in [(96, 11, 4, 2), "M", (256, 5, 1, 2), "M", (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1), "M"]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=3, stride=2))
            else:
                layers += [nn.Conv2d(cin, v[0], kernel_size=v[1], stride=v[2], padding=v[3]),
                           nn.BatchNorm2d(v[0]), nn.ReLU()]
                cin = v[0]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
                                        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU())
        self.top_layer = nn.Linear(4096, clusters)
        for m in self.modules():  # DeepCluster's _initialize_weights
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, (2.0 / n) ** 0.5)
                m.bias.data.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                m.bias.data.zero_()
        grayscale = nn.Conv2d(3, 1, kernel_size=1)
        grayscale.weight.data.fill_(1.0 / 3.0)
        grayscale.bias.data.zero_()
        sobel = nn.Conv2d(1, 2, kernel_size=3, padding=1)
        sobel.weight.data[0, 0].copy_(torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]]))
        sobel.weight.data[1, 0].copy_(torch.tensor([[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]]))
        sobel.bias.data.zero_()
        self.sobel = nn.Sequential(grayscale, sobel)

    def forward(self, x):
        x = self.sobel(x)
        x = self.features(x)
        x = x.view(x.size(0), 256 * 6 * 6)
        return self.top_layer(self.classifier(x))


def make(name, weights=None):
    """`weights`: a torchvision weights name (e.g. "DEFAULT") or None for the model's own init."""
    if name == "cornet_z":
        model = cornet_z()
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)
    elif name == "deepcluster_alexnet":
        model = DeepClusterAlexNet()
    elif name.startswith("timm/"):
        import timm
        model = timm.create_model(name[len("timm/"):], pretrained=False)
    else:
        model = torchvision.models.get_model(name, weights=weights)
    model.eval()
    no_inplace(model)
    return model


def no_inplace(model):
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False


def capture(model, x):
    """Forward-hook outputs of every named module, in completion order, with call-order suffixes."""
    named = [(n, m) for n, m in model.named_modules() if n]
    calls = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: calls.__setitem__(n, calls.get(n, 0) + 1))
             for n, m in named]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    seen, out = {}, []

    def hook(n):
        def f(m, i, o):
            seen[n] = seen.get(n, 0) + 1
            label = f"{n}:{seen[n]}" if calls[n] > 1 else n
            out.append((label, o.detach().clone()))
        return f

    hooks = [m.register_forward_hook(hook(n)) for n, m in named]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out




def make_vit(cfg):
    """A reduced ViT from ventral's VitConfig fields (family, image_size, patch, dim, depth, heads,
    mlp, classes). timm models resample their position embedding for other input sizes."""
    if cfg["family"] == "torchvision":
        model = torchvision.models.VisionTransformer(
            image_size=cfg["image_size"], patch_size=cfg["patch"], num_layers=cfg["depth"],
            num_heads=cfg["heads"], hidden_dim=cfg["dim"], mlp_dim=cfg["mlp"], num_classes=cfg["classes"])
    else:
        from timm.models.vision_transformer import VisionTransformer
        model = VisionTransformer(
            img_size=cfg["image_size"], patch_size=cfg["patch"], embed_dim=cfg["dim"], depth=cfg["depth"],
            num_heads=cfg["heads"], mlp_ratio=cfg["mlp"] / cfg["dim"], num_classes=cfg["classes"],
            dynamic_img_size=True)
    return model.eval()


def capture_vit(model, x):
    """ventral's ViT capture points, in ventral's order: forward-hook outputs of the modules it
    names (torchvision: every module; timm: all but Identity, DropPath and Dropout modules, keeping
    pos_drop and fc_norm), plus q, k, v (the in-projection split in three) and the attention
    probabilities [N, H, T, T] after each block's first norm, and torchvision's pre_logits
    (the class token after encoder.ln)."""
    tv = isinstance(model, torchvision.models.VisionTransformer)
    out = []

    def extra_attention(prefix, qkv, heads):
        q, k, v = qkv.chunk(3, dim=-1)
        for part, t in (("q", q), ("k", k), ("v", v)):
            out.append((f"{prefix}:{part}", t.clone()))
        n, t_, d = q.shape
        split = lambda z: z.reshape(n, t_, heads, d // heads).transpose(1, 2)
        scores = split(q) @ split(k).transpose(-2, -1) * (d // heads) ** -0.5
        out.append((f"{prefix}:weights", scores.softmax(-1)))

    def hook(name, module):
        def f(m, i, o):
            o = o[0] if isinstance(o, tuple) else o
            out.append((name, o.detach().clone()))
            if tv and name.endswith(".ln_1"):
                mha = model.get_submodule(name[: -len(".ln_1")] + ".self_attention")
                qkv = nn.functional.linear(o, mha.in_proj_weight, mha.in_proj_bias)
                extra_attention(name[: -len(".ln_1")] + ".self_attention", qkv, mha.num_heads)
            if not tv and name.endswith(".attn.qkv"):
                attn = model.get_submodule(name[: -len(".qkv")])
                extra_attention(name[: -len(".qkv")], o, attn.num_heads)
        return f

    def keep(name, module):
        if not name or name.endswith("out_proj"):
            return False
        if tv:
            return True
        if name in ("pos_drop", "fc_norm"):
            return True
        kind = type(module).__name__
        return kind not in ("Identity", "DropPath", "Dropout", "PatchEmbed")

    hooks = [m.register_forward_hook(hook(n, m)) for n, m in model.named_modules() if keep(n, m)]
    if tv:
        hooks.append(model.heads.register_forward_pre_hook(
            lambda m, i: out.append(("pre_logits", i[0].detach().clone()))))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out


def state_dict_for_ventral(model):
    return OrderedDict((k.replace("module.", ""), v.detach().float().contiguous())
                       for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))
