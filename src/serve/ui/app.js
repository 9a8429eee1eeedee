document.getElementById("app").textContent = "quarry";
