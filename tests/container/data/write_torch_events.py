"""A small PyTorch training run, logged with torch.utils.tensorboard.SummaryWriter."""

import sys

import torch
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
writer = SummaryWriter(f"{sys.argv[1]}/torch")
losses = []
for step in range(20):
    loss = torch.nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    writer.add_scalar("torch_loss", loss.item(), step)
    writer.add_histogram("torch_weights", model[0].weight, step)
writer.add_image("torch_images", torch.rand(3, 8, 8), 0)
writer.add_graph(model, x)
writer.close()
print(f"torch trained: loss {losses[0]:.3f} -> {losses[-1]:.3f}")
