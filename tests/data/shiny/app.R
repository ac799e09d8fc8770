# A sample Shiny app for deepdocker's tests: its greeting is rendered by the server and reaches the
# page over Shiny's websocket only; a line on stderr shows in the container's log.
library(shiny)

ui <- fluidPage(titlePanel("deepdocker sample app"), textOutput("greeting"))

server <- function(input, output, session) {
  message("sample app: a session started")
  output$greeting <- renderText(paste("Hello from Shiny,", 6 * 7))
}

shinyApp(ui, server)
