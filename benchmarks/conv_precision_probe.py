"""Probe (2026-12-03, kept in git history only; docs/performance.md, "Tried and dropped"):
each of the shipped network's convolutions alone in fp32, bf16 and fp16, channels-last,
on a 481x321 input, 2 threads (oneDNN; bf16 uses AMX where the CPU has it).

    python benchmarks/conv_precision_probe.py
"""
import torch, time
torch.set_num_threads(2)
def t(f, n=20):
    for _ in range(3): f()
    ts=[]
    for _ in range(n):
        a=time.perf_counter(); f(); ts.append(time.perf_counter()-a)
    ts.sort(); return ts[n//2]*1e3
for cin,cout in [(5,10),(35,10),(15,20)]:
    conv=torch.nn.Conv2d(cin,cout,3).eval()
    x=torch.randn(1,cin,323,483).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        f32=t(lambda: conv(x))
        convb=torch.nn.Conv2d(cin,cout,3).eval().to(torch.bfloat16).to(memory_format=torch.channels_last)
        xb=x.to(torch.bfloat16)
        b16=t(lambda: convb(xb))
        convh=torch.nn.Conv2d(cin,cout,3).eval().to(torch.float16).to(memory_format=torch.channels_last)
        xh=x.to(torch.float16)
        f16=t(lambda: convh(xh))
    print(cin,cout,"fp32 %.2f bf16 %.2f fp16 %.2f"%(f32,b16,f16))
